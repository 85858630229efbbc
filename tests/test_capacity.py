"""The ceiling of a usage share, read off the metric name and its values."""

from agent.detectors.capacity import capacity_limit


def test_percentages_and_ratios_have_ceilings_other_units_do_not():
    assert capacity_limit("cpu_usage_rate_percent", 83.0) == 100.0
    assert capacity_limit("disk_used_pct", 40.0) == 100.0
    assert capacity_limit("memory_usage_ratio", 0.9) == 1.0
    assert capacity_limit("cpu_usage_ratio", 3.5) is None  # cores, whatever the name says
    assert capacity_limit("cpu_usage_percent", 250.0) is None  # several cores' worth
    assert capacity_limit("cpu_usage_percent", 101.0) == 100.0  # a pegged share computed from rates
    assert capacity_limit("cpu_usage_millicores", 80.0) is None


def test_a_utilisation_says_a_share_and_its_values_say_its_scale():
    assert capacity_limit("cpu_util", 0.7) == 1.0
    assert capacity_limit("CPUUtilization", 63.0) == 100.0
    assert capacity_limit("disk_util", 250.0) is None  # several disks' or cores' worth
    assert capacity_limit("mem_used", 0.7) is None  # an amount, no share
