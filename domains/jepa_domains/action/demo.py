"""Demo data: a scripted expert swinging up gymnasium's ``Pendulum-v1``, written in the robomimic layout.

The expert pumps energy into the pendulum with a torque proportional to the
missing energy times the velocity (clipped to the motor's limit: a policy that
is continuous in the state, so that it can be cloned) and balances it with a
discrete LQR gain once it is near the top. Noisy demonstrations add Gaussian
noise to every executed torque, so the recorded actions are worse than the
expert's and the states wander. Both are deterministic from their seeds.

The file holds ``data/demo_N/obs/{angle, velocity}`` (``cos θ, sin θ`` and
``θ̇``), ``actions``, ``rewards``, ``dones`` and ``states`` (``θ, θ̇``), and
robomimic filter keys ``mask/expert``, ``mask/noisy``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from jepa_platform.domain import JepaError

ENV_ID = "Pendulum-v1"
STEPS = 200
MAX_TORQUE = 2.0
NOISE = 1.0
PUMP_GAIN = 2.0
DEMO_KEYS = ("angle", "velocity")
"""The demo's observation keys: ``cos θ, sin θ`` and ``θ̇``, the columns of ``Pendulum-v1``'s observation in order."""
DT, GRAVITY_TERM, TORQUE_TERM = 0.05, 15.0, 3.0  # θ̈ = 3g/(2l) sin θ + 3/(m l²) u with g = 10, m = l = 1


def make_env():
    """A fresh ``Pendulum-v1`` environment (gymnasium is needed for the demo and for rollouts)."""
    try:
        import gymnasium
    except ImportError:
        raise JepaError("the action demo needs gymnasium: pip install 'jepa-platform[action]'") from None
    return gymnasium.make(ENV_ID)


def lqr_gain(q: tuple[float, float] = (1.0, 0.1), r: float = 0.001, iterations: int = 500) -> np.ndarray:
    """The discrete LQR gain of the pendulum linearized upright (semi-implicit Euler, as the simulator steps)."""
    a = np.array([[1 + GRAVITY_TERM * DT**2, DT], [GRAVITY_TERM * DT, 1.0]])
    b = np.array([[TORQUE_TERM * DT**2], [TORQUE_TERM * DT]])
    p = np.diag(q)
    for _ in range(iterations):
        gain = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p = np.diag(q) + a.T @ p @ (a - b @ gain)
    return gain[0]


GAIN = lqr_gain()


def expert_action(obs: np.ndarray) -> np.ndarray:
    """The expert's torques for ``N × 3`` observations ``(cos θ, sin θ, θ̇)``: LQR near the top, else energy pumping."""
    cos, sin, velocity = obs[:, 0], obs[:, 1], obs[:, 2]
    angle = np.arctan2(sin, cos)  # 0 is upright
    energy = velocity**2 / 6 + 5 * (cos - 1)  # kinetic + potential of the rod (I = 1/3), 0 upright at rest
    pump = -PUMP_GAIN * energy * velocity  # dE/dt = θ̇ u: push along the motion while energy is missing
    balance = -(GAIN[0] * angle + GAIN[1] * velocity)
    near_top = (cos > np.cos(0.6)) & (np.abs(velocity) < 4)
    return np.clip(np.where(near_top, balance, pump), -MAX_TORQUE, MAX_TORQUE)[:, None]


def demonstration(seed: int, noisy: bool) -> dict[str, np.ndarray]:
    """One episode of ``STEPS`` steps from ``reset(seed=seed)``; noisy: torque + N(0, NOISE²), clipped."""
    env = make_env()
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed + 1_000_000)
    rows: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "states": []}
    for _ in range(STEPS):
        action = expert_action(obs[None])[0]
        if noisy:
            action = np.clip(action + NOISE * rng.normal(size=1), -MAX_TORQUE, MAX_TORQUE)
        rows["states"].append(np.array(env.unwrapped.state, dtype=np.float64))
        rows["obs"].append(obs)
        obs, reward, terminated, truncated, _ = env.step(action.astype(np.float32))
        rows["actions"].append(action)
        rows["rewards"].append(reward)
    env.close()
    return {key: np.asarray(value, dtype=np.float64) for key, value in rows.items()}


def write_robomimic(path: Path, episodes: list[dict[str, np.ndarray]], masks: dict[str, list[str]]) -> None:
    """``episodes`` as a robomimic file at ``path`` (written to a temporary name, then renamed)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as file:
        data = file.create_group("data")
        data.attrs["env_args"] = json.dumps({"env_name": ENV_ID, "type": "gymnasium", "env_kwargs": {}})
        data.attrs["total"] = sum(len(e["actions"]) for e in episodes)
        for i, episode in enumerate(episodes):
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = len(episode["actions"])
            demo.create_dataset("obs/angle", data=episode["obs"][:, :2])
            demo.create_dataset("obs/velocity", data=episode["obs"][:, 2:])
            demo.create_dataset("actions", data=episode["actions"])
            demo.create_dataset("rewards", data=episode["rewards"])
            dones = np.zeros(len(episode["actions"]), dtype=np.int64)
            dones[-1] = 1
            demo.create_dataset("dones", data=dones)
            demo.create_dataset("states", data=episode["states"])
        for key, names in masks.items():
            file.create_dataset(f"mask/{key}", data=np.array(names, dtype="S"))
    tmp.replace(path)


def write_demo(path: Path, episodes: int, noisy_share: float) -> None:
    """The demo file at ``path`` (once): ``episodes`` demos, every one whose index falls in the noisy share noisy."""
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    noisy = [(i * noisy_share) % 1 + noisy_share >= 1 for i in range(episodes)]  # spread evenly over the file
    recorded = [demonstration(seed=i, noisy=flag) for i, flag in enumerate(noisy)]
    names = [f"demo_{i}" for i in range(episodes)]
    write_robomimic(
        path, recorded,
        {"expert": [n for n, f in zip(names, noisy) if not f], "noisy": [n for n, f in zip(names, noisy) if f]},
    )
