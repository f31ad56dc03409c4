# Types of the C capture core (_core.c).
RECORD_HEAD_SIZE: int
BLOB_HEAD_SIZE: int

class Core:
    sync_wakeup: bool
    denied: int
    def __init__(
        self,
        filter: bytes,
        specs: list[tuple[int, int, int, bytes]],
        notify: bool,
        ptrace: bool,
        sync_wakeup: bool,
        argv_max: int,
        arg_max_bytes: int,
        max_events: int,
        max_bytes: int,
        block: bool,
        follow_cpu: bool = ...,
        killable_recv: bool = ...,
        notify_exits: bool = ...,
        resolve_claims: bool = ...,
        remap_guard: bool = ...,
        /,
    ) -> None: ...
    def learning_fd(self) -> int: ...
    def arm_learning(self) -> None: ...
    def guard(self, agent_pid: int, agent_pgid: int, /) -> None: ...
    def spawn(self, path: bytes, argv: list[bytes], envp: list[bytes], /) -> int: ...
    def run(self) -> None: ...
    def drain(self, max_bytes: int = ..., /) -> tuple[bytes, int]: ...
    def stats(self) -> dict[str, int]: ...

def probe_notify() -> tuple[bool, bool, bool]: ...
def probe_ptrace() -> int: ...
