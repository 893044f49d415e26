"""Logs shaped like the seed's hand-run experiments, in its layout, for import and report tests.

One 60 s episode; slow-loop warnings spread over it; tegrastats at 1 s with 14 cores at a
moderate load and a brief single-core peak (90-100 %) beside every warning.
"""

from __future__ import annotations

from pathlib import Path

# experiment: (warned Hz values, target Hz) as in docs/seed-investigation.md
SEED = {
    "exp1": ([24.1, 9.6, 21.3, 18.0, 25.2, 27.7, 19.9, 12.4, 26.0, 22.8, 17.5], 30),
    "exp2b": ([15.6], 20),
    "exp3": ([16.0, 24.4, 21.7, 27.1, 19.3], 30),
    "exp4": ([15.8, 22.0, 26.3, 19.4, 24.9, 28.1, 17.7, 23.5], 30),
    "exp5": ([15.5, 20.2, 26.8, 18.1, 23.3, 27.9, 21.4, 16.6, 25.5, 19.0, 22.2], 30),
}


def write_seed_logs(
    folder: Path,
    name: str,
    hz: list[float],
    target: int = 30,
    codec: str = "h264_nvenc",
    stop_s: int = 60,
) -> None:
    """A seed-shaped run: its record log (a warning every 5 s at the rates ``hz``, the
    recording stopped at ``stop_s``: the run's length) and its tegrastats log."""
    folder.mkdir(parents=True, exist_ok=True)
    seconds = [2 + i * 5 for i in range(len(hz))]  # warnings at 2, 7, 12, ... s
    lines = [
        "INFO 2026-02-10 10:00:00 t_record.py:435 {'dataset': {'fps': " + f"{target}" + "}}",
        f"INFO 2026-02-10 10:00:00 gs/video.py:186 Auto-selected video codec: {codec}",
        "INFO 2026-02-10 10:00:00 ls/utils.py:147 Recording episode 0",
    ]
    for sec, h in zip(seconds, hz, strict=True):
        lines.append(
            f"WARNING 2026-02-10 10:00:{sec:02d} t_record.py:352 Record loop is running "
            f"slower ({h} Hz) than the target FPS ({target} Hz)."
        )
    stop = f"10:{stop_s // 60:02d}:{stop_s % 60:02d}"
    lines += [
        f"INFO 2026-02-10 {stop} ls/utils.py:147 Stop recording",
        f"INFO 2026-02-10 {stop} ls/utils.py:147 Exiting",
    ]
    (folder / f"{name}_record.log").write_text("\n".join(lines) + "\n")
    teg = []
    for s in range(61):
        loads = [20 + (s * 7 + i * 3) % 25 for i in range(14)]  # 20-44 %
        if s in seconds:
            loads[s % 14] = 90 + s % 11  # one core briefly pegged beside the warning
        cpus = ",".join(f"{x}%@1566" for x in loads)
        teg.append(
            f"02-10-2026 10:00:{s:02d} RAM 50{s:03d}/125772MB (lfb 34x4MB) CPU [{cpus}] "
            "EMC_FREQ 0%@2750 GR3D_FREQ @[314,314,314] NVENC0_FREQ @314 "
            f"cpu@{45 + s % 5}.0C VIN 30000mW/30000mW"
        )
    (folder / f"{name}_tegrastats.log").write_text("\n".join(teg) + "\n")


def write_seed(folder: Path) -> Path:
    for name, (hz, target) in SEED.items():
        write_seed_logs(folder, name, hz, target)
    return folder
