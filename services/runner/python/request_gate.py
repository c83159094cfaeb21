# Run silently once in an ipykernel kernel that nes-run launched itself (see local-kernel.ts),
# with the stop file's path (in the kernel's private connection directory) filled in below.
#
# The runner sends a notebook's next cells before the current one has finished, so the kernel
# goes from one cell to the next without waiting for the runner in between. papermill's rule
# must still hold exactly: no cell runs after a failed cell, nor after the run was stopped.
# ipykernel alone does not guarantee the first (it aborts the requests queued when a cell fails,
# but one still on its way at that moment runs: ipykernel 7 ends the abort with a marker queued
# behind what it has already received) and knows nothing of the second. So requests the runner
# sent ahead carry `nes_gated` in their metadata, and the kernel answers them `aborted` without
# running them, exactly as it answers the requests it aborts itself, once
# - a cell has failed with stop_on_error (the kernel's own `_abort_queues` was called), or
# - the runner has created the stop file (the run was cancelled or reached its deadline).
# Requests without the flag, and everything else the kernel does, are left as they were.
def _nes_install_request_gate(stop_file):
    import os

    kernel = get_ipython().kernel  # noqa: F821 (defined in every IPython kernel namespace)
    if getattr(kernel, "_nes_request_gate", False):
        return
    abort_queues = kernel._abort_queues
    should_handle = kernel.should_handle
    send_abort_reply = kernel._send_abort_reply
    failed = []

    def gated_abort_queues(*args, **kwargs):
        failed.append(True)
        return abort_queues(*args, **kwargs)

    def gated_should_handle(stream, msg, idents):
        if (
            msg["header"]["msg_type"] == "execute_request"
            and (msg.get("metadata") or {}).get("nes_gated")
            and (failed or os.path.exists(stop_file))
        ):
            send_abort_reply(stream, msg, idents)
            return False
        return should_handle(stream, msg, idents)

    kernel._abort_queues = gated_abort_queues
    kernel.should_handle = gated_should_handle
    kernel._nes_request_gate = True


_nes_install_request_gate(__NES_STOP_FILE__)
del _nes_install_request_gate
