"""One training run for test_distributed.py: ``python ddp_run.py OUT_DIR`` alone, or under ``torchrun`` with
several processes. The same 3 global batches of 4 synthetic clips every time; each process writes its history
and its trained weights to OUT_DIR/rank<r>.json / .safetensors."""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from hmr_ros.model.siam import SIAMConfig
from hmr_ros.smpl.body_model import load_body_model
from hmr_ros.training import distributed
from hmr_ros.training.dataset import SyntheticClipDataset, collate
from hmr_ros.training.loop import TrainConfig, train

torch.set_num_threads(1)
CFG = SIAMConfig(width="w18", input_size=64, window=2, max_people=2)
out = Path(sys.argv[1])
dataset = SyntheticClipDataset(CFG, seed=0, image_sizes=[(96, 72)], body_model=load_body_model("procedural"))
data = [collate([dataset.sample(4 * step + i) for i in range(4)]) for step in range(3)]
world = distributed.world_from_env()
# amp off: bf16 rounding would differ between one batch of 4 and two of 2
result = train(CFG, TrainConfig(steps=3, batch_clips=4, lr=1e-3, device="cpu", seed=0, out_path=None, log_every=0,
               amp=False, warmup_steps=1), data=data)
(out / f"rank{world.rank}.json").write_text(json.dumps(result.history))
save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, str(out / f"rank{world.rank}.safetensors"))
distributed.stop(world)
