"""The Streamlit face of Bian Que: chat, stored cases with corrections, and the Skill library."""
