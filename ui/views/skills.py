"""Skills: the library the agent selects from, the files that failed to load, one Skill's YAML and stored
versions (history, rollback), and the regression set its refinements are replayed against."""

from __future__ import annotations

import streamlit as st

from agent.skills.loader import LoadedSkill, dump_skill_yaml
from ui import backend
from ui.formatting import code, plain, skill_rows
from ui.regression_panel import render_regression
from ui.versions_panel import render_versions
from ui.widgets import loaded_or_stop, show_error


def skill_yaml(loaded: LoadedSkill) -> str:
    """The Skill's file as written (comments kept), or its YAML when it has no readable file."""
    if loaded.path is not None:
        try:
            return loaded.path.read_text(encoding="utf-8")
        except OSError:
            pass
    return dump_skill_yaml(loaded.raw)


st.title("Skills")
library = loaded_or_stop("Loading the Skill library", backend.skill_library)
st.caption("Directories, later ones overriding earlier ones by name: " + plain(", ".join(str(d) for d in library.dirs)))
st.dataframe(skill_rows(list(library.skills.values())), hide_index=True, width="stretch")
for override in library.overrides:
    st.caption(f"{code(override.name)}: {plain(f'{override.path} overrides {override.replaced}')}")

failed = library.failed_files()
if failed:
    st.subheader(f"Files that failed to load ({len(failed)})")
    for file, errors in failed.items():
        st.error(f"**{plain(str(file))}**\n\n" + "\n".join(f"- {plain(str(error))}" for error in errors),
                 icon=":material/error:")

if library.skills:
    names = sorted(library.skills)
    name = st.selectbox("Show a Skill", names, key="skills_shown")
    loaded = library.skills[name]
    st.markdown(f"**{plain(loaded.name)}** v{loaded.skill.version} · {code(str(loaded.source))}")
    st.markdown(plain(loaded.skill.description))
    st.code(skill_yaml(loaded), language="yaml", line_numbers=True, height=600)
    try:
        render_versions(name)
    except Exception as exc:  # an unreachable database: a message, the library above stays readable
        show_error(f"Reading the stored versions of {name}", exc)
else:
    st.info("No Skill loaded: check the directories above.")

try:
    render_regression()
except Exception as exc:
    show_error("Reading the regression set", exc)
