"""xlt.transfer: task models and how they are trained.

* :mod:`~xlt.transfer.training_settings` - typed training settings (:class:`ProbeTraining`,
  :class:`FinetuneTraining`) and the defaults per mode and task kind (no torch);
* :mod:`~xlt.transfer.training` - the trainers (:class:`ProbeTrainer`, :class:`FinetuneTrainer`,
  :func:`fit_task_model`), which take those settings;
* :mod:`~xlt.transfer.model` - :class:`TaskModel` (probe or fine-tuned): predict, score, save, load;
* :mod:`~xlt.transfer.probe`, :mod:`~xlt.transfer.heads`, :mod:`~xlt.transfer.finetune`,
  :mod:`~xlt.transfer.checkpoint` - the training loops and their checkpoints;
* :mod:`~xlt.transfer.decoding`, :mod:`~xlt.transfer.ensemble`, :mod:`~xlt.transfer.ranking` -
  tags from word probabilities, ensembles of models, source-language rankers.

The modules import each other in one direction: training -> model -> probe/finetune.
"""
