"""Distributed training: the recipe's strategy names, and FSDP2 sharding of the JEPA networks.

``trainer.strategy`` takes Lightning's strategy names (``ddp``, ``fsdp``,
``deepspeed``, ...) and ``fsdp2``: Lightning's ``ModelParallelStrategy`` with
torch's ``fully_shard`` applied to every transformer block of the encoder,
the predictor and the EMA teacher, all processes data-parallel (parameters,
gradients and optimizer state sharded over them, no tensor parallelism). It
runs on GPUs (NCCL) and on CPUs (gloo), where Lightning's ``fsdp`` needs GPUs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightning.pytorch.strategies import ModelParallelStrategy, Strategy, StrategyRegistry

from ..errors import JepaError

if TYPE_CHECKING:
    from torch.distributed.device_mesh import DeviceMesh

    from ..model import Encoder, Predictor

FSDP2 = "fsdp2"


class FSDP2Strategy(ModelParallelStrategy):
    """``ModelParallelStrategy`` sharding over every process (nodes × devices), saving one full checkpoint file."""

    def __init__(self) -> None:
        super().__init__(save_distributed_checkpoint=False)

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        self._tensor_parallel_size = 1
        super().setup_environment()


def build_strategy(name: str) -> str | Strategy:
    """What ``L.Trainer(strategy=...)`` gets for the recipe's ``trainer.strategy``.

    Raises:
        JepaError: An unknown name.
    """
    if name == FSDP2:
        return FSDP2Strategy()
    if name != "auto" and name not in StrategyRegistry:
        known = ", ".join(["auto", FSDP2, *sorted(StrategyRegistry.available_strategies())])
        raise JepaError(f"recipe key 'trainer.strategy': unknown strategy '{name}' (known: {known})")
    return name


def shard_jepa(encoders: list["Encoder"], predictor: "Predictor", mesh: "DeviceMesh") -> None:
    """Apply ``fully_shard`` per transformer block, then to each network's remaining parameters.

    The encoders are called through ``embed_tokens`` and ``encode`` rather than
    ``forward``, so those methods are registered to gather the parameters too.
    Every network is resharded after its forward pass (the teacher has no
    backward pass that would do it), so the EMA update pairs sharded teacher
    and encoder parameters shard by shard. Idempotent: Lightning may configure
    the model more than once.
    """
    from torch.distributed.fsdp import FSDPModule, fully_shard, register_fsdp_forward_method

    for network in [*encoders, predictor]:
        if isinstance(network, FSDPModule):
            continue
        for block in network.stack.blocks:
            fully_shard(block, mesh=mesh)
        fully_shard(network, mesh=mesh, reshard_after_forward=True)  # sharded between steps, the teacher too
        if network is not predictor:
            for method in ("embed_tokens", "encode"):
                register_fsdp_forward_method(network, method)
