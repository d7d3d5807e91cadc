"""The Strategy contract, run against every strategy: ask/tell, seeding, no repeats."""

from __future__ import annotations

import pytest

from automl_meta.errors import InvalidParameterError
from automl_meta.evaluate import Trial
from automl_meta.space import SearchSpace, config_id
from automl_meta.strategies import STRATEGIES, make_strategy


def _drive(strategy, n):
    configs = []
    for i in range(n):
        config, source = strategy.ask()
        assert isinstance(source, str) and source
        configs.append(config)
        strategy.tell(Trial(index=i, config=config, config_id=config_id(config), status="ok",
                            scores={"roc_auc": 0.5 + i / 100}))
    return configs


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name):
    space = SearchSpace("binary", 500)
    a = _drive(make_strategy(name, space, seed=3), 20)
    b = _drive(make_strategy(name, space, seed=3), 20)
    c = _drive(make_strategy(name, space, seed=4), 20)
    assert [config_id(x) for x in a] == [config_id(x) for x in b]
    assert [config_id(x) for x in a] != [config_id(x) for x in c]
    assert len({config_id(x) for x in a}) == 20
    for config in a:
        space.validate(config)


def test_random_starts_with_every_family_default():
    space = SearchSpace("regression", 500)
    strategy = make_strategy("random", space, seed=0)
    first = [strategy.ask() for _ in range(len(space.families))]
    assert [c for c, _ in first] == space.default_configs()
    assert {s for _, s in first} == {"default"} and strategy.ask()[1] == "random"


def test_unknown_strategy():
    with pytest.raises(InvalidParameterError, match="'strategy' parameter must be one of"):
        make_strategy("bayes", SearchSpace("binary", 100))
