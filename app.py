"""Chain Rule Lab: an interactive explainer of autoregressive generative models.

Run with ``streamlit run app.py``. This file only sets the page up and lists the lessons;
each lesson is a thin script in ``pages/`` over the ``core`` package.
"""

from pathlib import Path

# Imported whole before any session draws: plotly looks pandas up in sys.modules without importing it,
# so a figure built while another session's first table was still importing pandas met a half-made
# module (AttributeError on a fresh server, two sessions opening at once). An import here waits.
import pandas  # noqa: F401
import streamlit as st

import pages.common  # (on import: one torch thread per request, set before any page runs)
from pages.navigation import existing_pages, run_by_app
from pages.scenes_sidebar import scene_sidebar
from pages.session_notices import notice_clicks_while_waiting, notice_lost_session

st.set_page_config(page_title="Chain Rule Lab", page_icon="🔗", layout="wide")
notice_lost_session()

home = st.Page("pages/home.py", title="Home", icon="🏠", url_path="index", default=True)  # served at /
# The same page at /home (the path its file name suggests), hidden from the menu: not "Page not found".
home_alias = st.Page("pages/home.py", title="Home", icon="🏠", url_path="home", visibility="hidden")
sections: dict[str, list] = {"": [home, home_alias]}
for info in existing_pages(Path(__file__).parent):
    sections.setdefault(info.section, []).append(
        st.Page(info.path, title=info.title, icon=info.icon, url_path=info.url_path)
    )
page = st.navigation(sections, expanded=True)
# a click during a wait for the LLM's worker cancels the abandoned request; pages check they run from here
with notice_clicks_while_waiting(), run_by_app():
    pages.common.page_run_starts()  # no presenter view until the page's toggle says so
    scene_sidebar(page.url_path)  # "this moment as a scene" and the scene stepper (pages/scenes_sidebar.py)
    page.run()
