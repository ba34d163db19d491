"""An asyncio AMI (Asterisk Manager Interface) client: actions, list actions, events.

Messages are ``Key: Value`` lines ended by a blank line. Responses carry our ``ActionID``;
list actions (CoreShowChannels, DeviceStateList) answer with events carrying it, ended by a
``...Complete`` event; other events go to the subscribers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, Callable

log = logging.getLogger("sipclient.http.twin.ami")

Message = dict[str, str]


class AmiError(Exception):
    pass


def parse_message(text: str) -> Message:
    out: Message = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        value = value.strip()
        if key in out and key == "Output":
            out[key] += "\n" + value
        else:
            out.setdefault(key, value)
    return out


def build_action(action: str, action_id: str, fields: dict[str, Any]) -> bytes:
    lines = [f"Action: {action}", f"ActionID: {action_id}"]
    for key, value in fields.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            text = str(item)
            if "\r" in text or "\n" in text:
                raise AmiError(f"AMI field {key} must be one line")
            lines.append(f"{key}: {text}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class AmiClient:
    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, list[Message]] = {}
        self._list_done: dict[str, asyncio.Future[None]] = {}
        self._subscribers: list[Callable[[Message], None]] = []
        self._task: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int, user: str, secret: str,
                      timeout: float = 10.0) -> "AmiClient":
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout)
            await asyncio.wait_for(self._reader.readline(), timeout)  # banner
        except (OSError, asyncio.TimeoutError) as exc:
            raise AmiError(f"AMI at {host}:{port} unreachable: {exc}") from None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        reply = await self.action("Login", Username=user, Secret=secret,
                                  Events="call,user,system,agent,dialplan")
        if reply.get("Response") != "Success":
            await self.close()
            raise AmiError(f"AMI login refused for user {user}")
        return self

    def subscribe(self, callback: Callable[[Message], None]) -> None:
        self._subscribers.append(callback)

    async def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.write(b"Action: Logoff\r\n\r\n")
                self._writer.close()
            except (ConnectionError, RuntimeError):
                pass
            self._writer = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for fut in list(self._pending.values()) + list(self._list_done.values()):
            if not fut.done():
                fut.set_exception(AmiError("AMI connection closed"))

    async def action(self, name: str, timeout: float = 10.0, action_id: str = "",
                     **fields: Any) -> Message:
        if self._writer is None:
            raise AmiError("AMI not connected")
        action_id = action_id or f"twin-{next(self._ids)}"
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = fut
        self._writer.write(build_action(name, action_id, fields))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(action_id, None)

    async def list_action(self, name: str, timeout: float = 10.0, **fields: Any
                          ) -> list[Message]:
        """An action whose results are events ended by an ``EventList: Complete`` event."""
        if self._writer is None:
            raise AmiError("AMI not connected")
        action_id = f"twin-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        self._lists[action_id] = []
        done: asyncio.Future[None] = loop.create_future()
        self._list_done[action_id] = done
        reply: asyncio.Future[Message] = loop.create_future()
        self._pending[action_id] = reply
        self._writer.write(build_action(name, action_id, fields))
        try:
            response = await asyncio.wait_for(reply, timeout)
            if response.get("Response") == "Error":
                raise AmiError(f"AMI {name}: {response.get('Message', 'error')}")
            await asyncio.wait_for(done, timeout)
            return self._lists[action_id]
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)
            self._list_done.pop(action_id, None)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                raw = await self._reader.readuntil(b"\r\n\r\n")
                self._dispatch(parse_message(raw.decode("utf-8", errors="replace")))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            log.debug("AMI connection ended: %s", exc)
        finally:
            for fut in list(self._pending.values()) + list(self._list_done.values()):
                if not fut.done():
                    fut.set_exception(AmiError("AMI connection closed"))

    def _dispatch(self, msg: Message) -> None:
        action_id = msg.get("ActionID", "")
        if "Response" in msg and "Event" not in msg:
            fut = self._pending.get(action_id)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        if action_id in self._lists:
            if msg.get("EventList") == "Complete" or msg.get("Event", "").endswith("Complete"):
                done = self._list_done.get(action_id)
                if done is not None and not done.done():
                    done.set_result(None)
            else:
                self._lists[action_id].append(msg)
            return
        for callback in list(self._subscribers):
            try:
                callback(msg)
            except Exception:  # noqa: BLE001 - one bad subscriber must not stop the reader
                log.exception("AMI event subscriber failed")
