"""What a run trains, how it chooses on validation rows, and whether it becomes the champion.

- `variants`, `weights`: the configurations a run trains and their class weights, the
  weight grid of the sweep.
- `metrics`: the minority-class metrics of scores against labels.
- `thresholds`: thresholds chosen on validation rows by a policy.
- `bootstrap`: the paired bootstrap of two scorers, the spread over seeds.
- `references`: the scorers a network must beat (a logistic regression).
- `choices`: the plan of a run's members and the choice of variant and threshold.
- `champion`: the gate's decision, champion against candidate.

Pure functions, no Prefect; scikit-learn is imported by the modules that use it, not here.
"""
