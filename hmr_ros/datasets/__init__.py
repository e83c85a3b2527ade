"""Real datasets in their native layouts (the data is licensed: bring your own copy): ``threedpw`` (3DPW),
``panoptic`` (CMU Panoptic Studio), ``coco`` (COCO-2017 person keypoints), ``bedlam`` (BEDLAM processed labels)."""
