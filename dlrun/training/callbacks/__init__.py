"""dlrun's Keras callbacks, one class per module. Importing this package imports Keras:
import it lazily, after `dlrun.tfenv.import_keras`, from code that trains."""

from dlrun.training.callbacks.backup import Backup, BackupUnreadable, restore
from dlrun.training.callbacks.checkpoint import BestCheckpoint
from dlrun.training.callbacks.early_stopping import ResumableEarlyStopping
from dlrun.training.callbacks.history import HistoryWriter, previous_rows
from dlrun.training.callbacks.learning_rate import LearningRateLog
from dlrun.training.callbacks.plateau import ResumableReduceLROnPlateau
from dlrun.training.callbacks.printer import EpochPrinter

__all__ = [
    "Backup",
    "BackupUnreadable",
    "BestCheckpoint",
    "EpochPrinter",
    "HistoryWriter",
    "LearningRateLog",
    "ResumableEarlyStopping",
    "ResumableReduceLROnPlateau",
    "previous_rows",
    "restore",
]
