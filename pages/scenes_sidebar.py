"""Scenes in the sidebar of every page: keep this moment as a scene, and step through the scene list.

app.py calls ``scene_sidebar`` after the chosen page ran. The teacher's list lives in this browser session
(and in the Scenes page's link); nothing is stored on the server. The list logic is ``core.lessons.scene_list``.
"""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.lessons.page_state import linked_fields
from core.lessons.scene_list import MAX_SCENES, SHIPPED, SceneListError, capture, from_link_value
from core.lessons.scenes import PAGE_STATES, Scene
from pages.state import get, link_values, pop, put

MINE = "crl_scenes_mine"  # the teacher's list (a tuple of scenes), None for the shipped list
AT = "crl_scenes_at"  # the scene the stepper is on (0-based), None when not stepping
GO = "crl_scenes_go"  # where a stepper click asked to go: a scene index or "list"
NOTE = "crl_scenes_note"
SEEN = "crl_scenes_link_seen"  # the last list value the Scenes page read from or wrote to its link
LINK_NOTE = (
    "crl_scenes_link_note"  # why the list in the link could not be used  # ("success" | "error", words) after an add
)
TITLE, SAY = "crl_scene_title", "crl_scene_say"  # the capture form's text boxes
LIST_PAGE = "pages/scenes.py"


def current_scenes() -> tuple[Scene, ...]:
    mine = get(MINE)
    return SHIPPED if mine is None else mine


def add_this_moment(url_path: str) -> None:
    """The capture button's callback: the page's url path and its address bar's settings, kept as a scene."""
    title, say = get(TITLE, ""), get(SAY, "")
    try:
        fields = linked_fields(PAGE_STATES[url_path]) if url_path in PAGE_STATES else []
        params = {f.name: values[-1] for f in fields if (values := link_values(f.name))}  # the address bar's
        scene = capture(title, url_path, params, say)
    except SceneListError as e:
        put(NOTE, ("error", str(e)))
        return
    mine = get(MINE) or ()
    if len(mine) >= MAX_SCENES:
        put(NOTE, ("error", f"Your list already has {MAX_SCENES} scenes, the most a list may hold; remove one first."))
        return
    put(MINE, (*mine, scene))
    put(NOTE, ("success", f"Added scene {len(mine) + 1}: “{scene.title}”. See it on the Scenes page."))
    put(TITLE, "")
    put(SAY, "")


def read_link() -> None:
    """On the Scenes page: a list in its link replaces the session's, unless this page wrote that value itself
    (going back in the browser must not undo scenes added since). A bad value leaves a note for the page."""
    value = (link_values("scenes") or [None])[-1]
    if not value or value == get(SEEN):
        return
    put(SEEN, value)
    try:
        put(MINE, from_link_value(value))
    except SceneListError as e:
        put(LINK_NOTE, e)
        return
    put(AT, None)


def step(by: int | None) -> None:
    """A stepper button's callback: the scene to open next (``by`` None: back to the list), for ``follow_step``."""
    at = get(AT)
    target = None if by is None else (0 if at is None else at + by)
    put(GO, "list" if target is None or target < 0 else target)


def follow_step(url_path: str) -> None:
    """After a stepper click on page ``url_path``: open the chosen scene's page in its state, or the list.

    The open page's widgets hold its link fields, and Streamlit refuses to set or clear a widget's field from
    outside it ("Cannot directly set query parameter ... bound to a widget"; ``switch_page`` without
    ``query_params`` clears them that way). So every switch names its link (an empty one: replaced without that
    check), and a scene on the page already open goes by way of the Scenes page: leaving the page releases its
    fields; the Scenes page, run only as far as this call, then opens the scene (its content is never drawn)."""
    target = pop(GO)
    if target is None:
        return
    scenes = current_scenes()
    if target == "list" or not 0 <= target < len(scenes):
        put(AT, None)
        st.switch_page(LIST_PAGE, query_params={})
    if scenes[target].page == url_path:
        put(GO, target)  # asked again on the way through the Scenes page
        st.switch_page(LIST_PAGE, query_params={})
    put(AT, target)
    for field in linked_fields(PAGE_STATES[scenes[target].page]):  # kept from an earlier visit: the scene's own
        pop(field.name)  # values or the defaults instead (a widget without a value reads the link)
    st.switch_page(f"pages/{scenes[target].page}.py", query_params=scenes[target].query())


def stepper(url_path: str) -> None:
    """Scene k of n with Previous / Next (PageUp / PageDown), shown on the Scenes page and while stepping."""
    scenes = current_scenes()
    at = get(AT)
    if at is not None and not 0 <= at < len(scenes):  # the list changed under the stepper
        at = None
        put(AT, None)
    with st.container(border=True, key="crl_scene_stepper"):
        if at is None:
            st.markdown(f"**Scenes:** {len(scenes)} in the list. **Next scene** (PageDown) opens scene 1.")
        else:
            st.markdown(f"**Scene {at + 1} of {len(scenes)}:** {escape_markdown(scenes[at].title)}")
            if scenes[at].shows:
                st.caption(f"Say: {escape_markdown(scenes[at].shows)}")
        st.button(
            "Next scene", key="crl_scene_next", shortcut="pagedown", help="Opens the next scene (PageDown; "
            "while a slider has the focus, the key moves the slider instead: click an empty spot first)",
            icon=":material/arrow_forward:", type="primary", width="stretch", on_click=step, args=(1,),
            disabled=at is not None and at + 1 >= len(scenes) or not scenes,
        )  # fmt: skip
        st.button(
            "Previous", key="crl_scene_prev", shortcut="pageup", help="Opens the previous scene (PageUp)",
            icon=":material/arrow_back:", width="stretch", disabled=at is None, on_click=step, args=(-1,),
        )  # fmt: skip
        if at is not None and url_path != "scenes":
            st.button("All scenes", key="crl_scene_list", icon="🎬", width="stretch", on_click=step, args=(None,))


def capture_form(url_path: str) -> None:
    with st.expander("This moment as a scene", icon="🎬", expanded=False):
        st.caption("Keeps this page with its settings as they are now, for the Scenes page.")
        st.text_input("Title", key=TITLE, placeholder="e.g. The ledger of “olivia”")
        st.text_input("What to say", key=SAY, placeholder="one line for the class")
        st.button("Add to my scenes", key="crl_scene_add", on_click=add_this_moment, args=(url_path,), icon="➕")
    note = get(NOTE)
    if note:
        put(NOTE, None)
        (st.success if note[0] == "success" else st.error)(escape_markdown(note[1]))


def scene_sidebar(url_path: str) -> None:
    """The sidebar's scene controls on page ``url_path``: the stepper (Scenes page or while stepping), and
    the capture form on every page whose settings a scene can hold."""
    if url_path == "scenes":
        read_link()
    follow_step(url_path)
    with st.sidebar:
        if url_path == "scenes" or get(AT) is not None:
            stepper(url_path)
        if url_path in PAGE_STATES:
            capture_form(url_path)
