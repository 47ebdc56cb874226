"""Host reads per training step for `python -m bench speed` (issue 20): after the timed
blocks, ERM steps and the method's updates run once more under a
:class:`~bench.engine.host_reads.HostReadCounter` (never while timing: the counter costs a
Python call per torch function). The target is at most one read per 50 steps
(``READS_TARGET``); a step that syncs shows as 1.0 or more."""
from __future__ import annotations

READS_TARGET = 1 / 50   # device-to-host reads per optimizer step, at most


def count_reads(rig, steps: int) -> dict:
    """{'erm': ..., 'method': ..., 'target_per_step', 'meets_target'}: reads counted over
    ``steps`` ERM steps of ``rig.erm`` and over method updates until they took at least
    ``steps`` optimizer steps (each a :meth:`HostReadCounter.summary`)."""
    from ..engine.host_reads import HostReadCounter

    out = {}
    with HostReadCounter() as c:
        for _ in range(steps):
            rig.erm.step(rig.erm_opt, rig.ts, rig.erm_sampler.next())
    out["erm"] = c.summary(steps)
    block = rig.block
    engine = block.ctx.engine
    before = engine.optimizer_steps
    with HostReadCounter() as c:
        while engine.optimizer_steps - before < steps:
            block.method.update(block.ctx)
    out["method"] = c.summary(engine.optimizer_steps - before)
    out["target_per_step"] = READS_TARGET
    out["meets_target"] = all(out[k]["reads_per_step"] <= READS_TARGET for k in ("erm", "method"))
    return out
