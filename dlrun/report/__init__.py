"""What a person reads about runs: report.md, learning-curve PNGs, TensorBoard HParams.

- `markdown`: `report.md` of a run, with the confusion matrix or the predicted-vs-true
  scatter it draws, and the markdown tables `dlrun compare` prints.
- `plots`: the learning curves the training writes (one per stage, one overlay).
- `hparams`: HParams sessions and experiments for TensorBoard, written without TensorFlow.

Nothing is re-exported here: each caller imports the module that defines a name
(`from dlrun.report.markdown import write_report`), so importing one loads none of the
others.
"""
