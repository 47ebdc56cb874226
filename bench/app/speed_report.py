"""The human-readable table of `python -m bench speed` (bench/app/speed.py measures)."""
from __future__ import annotations

def format_report(r: dict) -> str:
    """The human-readable report of :func:`measure`'s dict."""
    e = r["engine"]
    mb = r["method_batches"]
    lines = [
        f"bench speed: method {r['method']}, profile {r['profile']} ({r['backbone']}, "
        f"{r['crop']} px crops, ERM batch {r['batch_size']})",
        f"device: {r['device']} - {r['device_name']}; {r['torch_threads']} torch threads"
        + (f" ({r['torch_threads_why']})" if r.get("torch_threads_why") else "")
        + f"; load average {' '.join(str(x) for x in r['load_avg'])}",
        f"engine: amp {e['amp']}, channels_last {e['channels_last']}, Adam {e['adam']}, "
        f"compile {e['compile']}, crops cut on the {e['placement']}",
        f"data: {r['data_description']}",
        f"method block: {mb['iterations_per_block']} {mb['unit']}(s) = {mb['steps_per_block']} inner "
        f"steps, {mb['images_per_block']} images (batch sizes {mb['batch_sizes']})"
        + (f", {r['n_subsets']} subsets" if r.get("n_subsets") else ""),
        "",
        f"{'':<34}{'images/s':>12}{'ms/step':>10}",
        f"{'bare PyTorch loop (pre-cut crops)':<34}{r['bare_img_s']:>12.0f}{r['ms_per_step']['bare']:>10.2f}",
        f"{'ERM, Engine.step (with its data)':<34}{r['erm_img_s']:>12.0f}{r['ms_per_step']['erm']:>10.2f}",
        f"{'Engine.step on pre-cut crops':<34}{r['erm_precut_img_s']:>12.0f}"
        f"{1e3 * r['batch_size'] / r['erm_precut_img_s']:>10.2f}",
        f"{r['method'] + ' training step':<34}{r['method_img_s']:>12.0f}{r['ms_per_step']['method']:>10.2f}",
        f"{'ERM on the method batch sizes':<34}{r['erm_matched_img_s']:>12.0f}"
        f"{r['ms_per_step']['erm_matched']:>10.2f}",
        f"{'data pipeline (Engine.batch)':<34}{r['data_crops_s']:>12.0f}  crops/s",
        f"{'host crop cutting (uint8)':<34}{r['host_crops_s']:>12.0f}  crops/s",
        "",
        f"harness/bare = {r['harness_over_bare']:.3f}   (target >= 0.95: "
        f"{'met' if r['meets_targets']['harness_over_bare'] else 'MISSED'}; the harness cutting "
        f"its crops; fed the bare loop's pre-cut crops: {r['harness_step_over_bare']:.3f})",
        f"{r['method']}/ERM per step, same batches = {r['method_over_erm']:.3f}   (target <= 1.10: "
        f"{'met' if r['meets_targets']['method_over_erm'] else 'MISSED'})",
        f"{r['method']}/ERM per image (ERM at batch {r['batch_size']}) = {r['method_over_erm_per_image']:.3f}",
        f"peak memory: host {r['peak_host_mb']:.0f} MB"
        + (f", device {r['peak_device_mb']:.0f} MB" if "peak_device_mb" in r else ""),
        f"({r['repeats']} repeats of {r['steps']} bare/ERM/pre-cut step triples and one method block with "
        "its matched ERM steps interleaved step by step; medians)",
    ]
    hr = r.get("host_reads")
    if hr:
        lines.append(
            f"host reads per optimizer step: ERM {hr['erm']['reads_per_step']:.3f}, {r['method']} "
            f"{hr['method']['reads_per_step']:.3f} over {hr['method']['steps']} steps (target <= "
            f"{hr['target_per_step']:.2f}: {'met' if hr['meets_target'] else 'MISSED'}"
            + ("" if hr["meets_target"] else f"; at {hr['method']['where'] or hr['erm']['where']}")
            + ")")
    for n, f in (r.get("folds_per_device") or {}).items():
        lines.append(f"{n} fold process(es) on the device: {f['img_s']:.0f} images/s in all "
                     f"({f['per_fold_img_s']:.0f} each, ERM, {f['seconds']:.1f} s)")
    return "\n".join(lines)
