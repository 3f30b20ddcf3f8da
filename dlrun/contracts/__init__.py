"""Training contracts registry: a name -> what training means for one kind of learning.

Adding a contract is one module (a `Contract` subclass) and one line in `CONTRACTS`;
`dlrun.spec` builds the config's `task` values from it. A contract serves one or more
`task:` values (`contract_for`), and may claim model kinds as its own (a `dcgan` trains
only as a GAN).

Example:

```python
contract_for("autoencoder").batch     # "xx"
contract_for("binary").name           # "supervised"
```
"""

from __future__ import annotations

from dlrun.contracts.autoencoder import Autoencoder
from dlrun.contracts.base import Contract
from dlrun.contracts.gan import Gan
from dlrun.contracts.language_model import LanguageModel
from dlrun.contracts.supervised import Supervised

CONTRACTS: dict[str, Contract] = {
    contract.name: contract for contract in (Supervised(), Autoencoder(), Gan(), LanguageModel())
}
TASKS: dict[str, Contract] = {task: c for c in CONTRACTS.values() for task in c.tasks}
# Model kinds that only their contract trains.
OWNED: dict[str, Contract] = {k: c for c in CONTRACTS.values() for k in c.kinds or ()}


def contract_for(task: str) -> Contract:
    return TASKS[task]


def kind_problems(task: str, kind: str) -> list[str]:
    """Whether `task` trains model kind `kind` (the registry's name of it)."""
    contract = contract_for(task)
    owner = OWNED.get(kind)
    if contract.kinds is not None and kind not in contract.kinds and kind != "python":
        return [
            f"task '{task}' trains model.kind {' or '.join(contract.kinds)}, not '{kind}'. "
            f"Set model.kind: {contract.kinds[0]}."
        ]
    if contract.kinds is None and owner is not None:
        return [
            f"model.kind '{kind}' trains only for task {' or '.join(owner.tasks)}, not "
            f"'{task}'. Set task: {owner.tasks[0]}, or choose a model kind for a {task} task."
        ]
    return []


__all__ = ["CONTRACTS", "TASKS", "Contract", "contract_for", "kind_problems"]
