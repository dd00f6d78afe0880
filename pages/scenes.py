"""Scenes: a teacher's list of page states, each with one line of what to say, stepped through in class.

The shipped list is the lesson's order (``core.lessons.scene_list.SHIPPED``); a teacher's own list is
made with "This moment as a scene" in the sidebar of any page, lives in this session and in this page's
link (``?scenes=<value>``), and travels as a JSON file. Stepping is in the sidebar (pages/scenes_sidebar.py).
"""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.lessons.scene_list import SHIPPED, moved, to_link_value
from pages.common import show_error
from pages.navigation import PAGES, page_link, require_app
from pages.scenes_files import files_section
from pages.scenes_sidebar import AT, LINK_NOTE, MINE, SEEN
from pages.state import get, put, set_link_value

require_app()  # a page script Streamlit ran without app.py reruns through it

TITLES = {p.url_path: p.title for p in PAGES}

st.title("Scenes")
st.markdown(
    "A scene is one page opened with its settings, and one line of what to say about it. Step through a "
    "list in class with **Next scene** and **Previous** in the sidebar (or the keys PageDown and PageUp). Make "
    "your own list with **This moment as a scene** in the sidebar of any lesson page."
)
st.caption(
    "With a clicker: after moving a slider, click an empty spot of the page before the next press. While a "
    "slider has the focus the browser gives it PageDown and PageUp (they move it by a tenth of its range) and "
    "Streamlit sends no key to the buttons."
)


def write_link(mine) -> None:
    value = None if mine is None else to_link_value(mine)
    put(SEEN, value)
    set_link_value("scenes", value)


def set_mine(scenes) -> None:
    put(MINE, scenes)
    put(AT, None)


if get(LINK_NOTE):  # read before the sidebar's stepper drew (pages/scenes_sidebar.py, read_link)
    show_error("The scene list in this link cannot be used, so the shipped scenes are shown.", get(LINK_NOTE))
    put(LINK_NOTE, None)
mine = get(MINE)
scenes = SHIPPED if mine is None else mine
if mine is None:
    st.subheader(f"The shipped scenes ({len(SHIPPED)})")
    st.caption("The lesson's order. Start your own list from them, or add scenes from any page.")
    st.button("Make my own list from these", key="crl_scenes_copy", on_click=set_mine, args=(SHIPPED,), icon="✏️")
else:
    st.subheader(f"Your scenes ({len(mine)})")
    st.caption("Kept in this browser session and in this page's link; nothing is stored on the server.")
    st.button("Back to the shipped scenes", key="crl_scenes_reset", on_click=set_mine, args=(None,), icon="↩️")
if not scenes:
    st.info("Your list is empty. Open a lesson page and use **This moment as a scene** in its sidebar.", icon="🎬")


def row(i: int, scene, key: str, mine) -> None:
    """One scene: number, title, page, what to say, its Open link; with ``mine``, move and remove buttons."""
    with st.container(border=True, key=key):
        st.markdown(f"**{i + 1}. {escape_markdown(scene.title)}** · {TITLES.get(scene.page, scene.page)}")
        if scene.shows:
            st.caption(f"Say: {escape_markdown(scene.shows)}")
        with st.container(horizontal=True, vertical_alignment="center"):
            page_link(f"pages/{scene.page}.py", "Open", icon="▶️", query_params=scene.query())
            if mine is None:
                return
            tool = {"type": "tertiary", "on_click": set_mine}
            st.button("Up", key=f"{key}_up", icon=":material/arrow_upward:", args=(moved(mine, i, -1),),
                      disabled=i == 0, **tool)  # fmt: skip
            st.button("Down", key=f"{key}_down", icon=":material/arrow_downward:", args=(moved(mine, i, 1),),
                      disabled=i + 1 == len(mine), **tool)  # fmt: skip
            st.button("Remove", key=f"{key}_out", icon=":material/close:", args=(mine[:i] + mine[i + 1 :],), **tool)


for i, scene in enumerate(scenes):
    row(i, scene, f"crl_scene_{i}", mine)
if mine is not None:
    with st.expander(f"The shipped scenes ({len(SHIPPED)}): open one, then keep it from the sidebar", icon="📚"):
        for i, scene in enumerate(SHIPPED):
            row(i, scene, f"crl_shipped_{i}", None)

write_link(get(MINE))
files_section(scenes, get(MINE) is not None, set_mine)
