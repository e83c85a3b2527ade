"""Real datasets in their native layouts (the data is licensed: bring your own copy): ``threedpw`` (3DPW),
``panoptic`` (CMU Panoptic Studio), ``coco`` (COCO-2017 person keypoints), ``bedlam`` (BEDLAM processed labels);
``clips``: 3DPW and BEDLAM as training clips, and their weighted mixture; ``augment``: crop, flip, colour."""
