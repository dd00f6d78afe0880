"""The Scenes page's last section: the list's share link, its JSON file to download, and a file to upload.

An uploaded file is read by the same checks as a link (``core.lessons.scene_list.from_json``); a file that
cannot be used is refused in words and the list on the page stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import streamlit as st

from core.lessons.scene_list import MAX_BYTES, SceneListError, from_json, to_json, to_link_value
from pages.common import show_error
from pages.state import get, put

UPLOAD = "crl_scenes_upload"
UPLOAD_NOTE = "crl_scenes_upload_note"  # ("success" | "error", words) after an upload


def share_link(value: str | None) -> str:
    """The address that opens the Scenes page with this list (relative when the page's own is unknown)."""
    query = f"?scenes={value}" if value else ""
    try:
        url = urlsplit(st.context.url or "")
    except (AttributeError, RuntimeError, ValueError):
        url = None
    if not url or not url.netloc:
        return f"/scenes{query}"
    folder = url.path.rsplit("/", 1)[0]
    return f"{url.scheme}://{url.netloc}{folder}/scenes{query}"


def load_upload(set_mine: Callable) -> None:
    """The uploader's callback: a good file becomes the teacher's list; a bad one is refused in words."""
    file = get(UPLOAD)
    if file is None:
        return
    try:
        if file.size > MAX_BYTES:  # not even read
            raise SceneListError(f"The file has {file.size:,} bytes; a scene list has at most {MAX_BYTES:,}.")
        scenes = from_json(file.getvalue())
    except SceneListError as e:
        put(UPLOAD_NOTE, ("error", f"{file.name} was not loaded. {e}"))
        return
    set_mine(scenes)
    put(UPLOAD_NOTE, ("success", f"Loaded {len(scenes)} scenes from {file.name}."))


def files_section(scenes, mine: bool, set_mine: Callable) -> None:
    st.subheader("Share, save, load")
    with st.container(border=True, key="crl_scenes_files"):
        if mine:
            st.markdown("**The link of this list** (copy it; it opens this page with the same scenes):")
            st.code(share_link(to_link_value(scenes)), language=None, wrap_lines=True)
        else:
            st.markdown("The shipped scenes are this page's plain link. Your own list gets its own link.")
        st.download_button(
            "Download the list (JSON)",
            data=to_json(scenes),
            file_name="chain-rule-lab-scenes.json",
            mime="application/json",
            key="crl_scenes_download",
            icon="⬇️",
            on_click="ignore",
        )
        st.file_uploader(
            "Upload a scene list (a JSON file downloaded here)",
            type=["json"],
            key=UPLOAD,
            on_change=load_upload,
            args=(set_mine,),
        )
        note = get(UPLOAD_NOTE)
        if note:
            put(UPLOAD_NOTE, None)
            if note[0] == "error":
                show_error("", SceneListError(note[1]))
            else:
                st.success(note[1])
