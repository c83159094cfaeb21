# Run silently in every ipykernel kernel the runner starts (see kernel-session.ts). Two
# adjustments, both invisible to the notebook:
#
# 1. Stream batches are bounded.
# ipykernel batches stream output for 0.2 s with no size limit, so a cell printing in a tight
# loop sends messages of hundreds of MB, which neither Jupyter Server nor the runner can handle
# without holding them whole in memory. Here, once 1 MiB is buffered, the stream is flushed at
# once: IOPub stream messages stay around 1 MiB, output keeps its order, and a fast writer waits
# for its output to leave instead of piling it up. (The hook is `_schedule_flush`, which every
# write calls: IPython re-binds `write` itself on each stream instance at every execution.)
def _nes_bound_stream_batches(limit=1 << 20):
    from ipykernel.iostream import OutStream

    schedule_flush = OutStream._schedule_flush
    if getattr(schedule_flush, "_nes_bounded", False):
        return

    def bounded_schedule_flush(self):
        try:
            buffered = sum(buffer.tell() for buffer in self._buffers.values())
        except Exception:  # another ipykernel layout: keep its own batching
            buffered = 0
        if buffered >= limit:
            self.flush()
        else:
            schedule_flush(self)

    bounded_schedule_flush._nes_bounded = True
    OutStream._schedule_flush = bounded_schedule_flush


_nes_bound_stream_batches()
del _nes_bound_stream_batches


# 2. IPython's SQLite input history is off, as nbclient (and so papermill) runs kernels with
# `HistoryManager.hist_file=:memory:`. Left on, every cell wakes a thread that commits to
# ~/.ipython's history.sqlite: about 1 ms of kernel CPU per cell (measured on 500 trivial cells,
# 7.7 -> 6.8 ms), a write into the user's profile for every run, and a failure mode on read-only
# home directories. In-memory history (`_i`, `In`, `Out`) is unaffected.
def _nes_history_off():
    shell = get_ipython()  # noqa: F821 (defined in every IPython kernel namespace)
    if shell is not None:
        shell.history_manager.enabled = False


_nes_history_off()
del _nes_history_off
