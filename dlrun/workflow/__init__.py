"""The universal workflow of machine learning (Deep Learning with Python, ch. 4).

`runner.run_workflow` walks baseline -> small -> overfit -> regularize -> final:
`stages` plans the configs, `baselines` computes the common-sense baselines,
`verdicts` judges each stage's curves, `kfold` prepares holdout/K-fold portions.

Example:

```python
from dlrun.workflow.runner import run_workflow
summary = run_workflow(run, config, out, only=None, final=True)
```
"""
