"""The weight average: an exponential moving average of every floating-point weight and statistic, forgetting the
first steps fast, restorable from a saved state, and applied to a model only inside a block."""
import pytest
import torch
from torch import nn

from hmr_ros.training.ema import WeightAverage


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def test_the_average_follows_the_recurrence_with_a_fast_start():
    model = net()
    average = WeightAverage(model, decay=0.9)
    expected = model[0].weight.detach().clone()
    for n in range(200):
        with torch.no_grad():
            model[0].weight.add_(1.0)
        rate = min(0.9, (1 + n) / (10 + n))  # 0.1, 0.18, ... 0.9 from update 80 on
        expected = rate * expected + (1 - rate) * model[0].weight.detach()
        average.update(model)
    assert average.updates == 200
    torch.testing.assert_close(average.shadow["0.weight"], expected)
    # the weights climbed by 1 a step: the average trails them by about decay / (1 - decay) = 9 steps
    lag = (model[0].weight - average.shadow["0.weight"]).mean().item()
    assert 8.9 < lag < 9.1


def test_integer_statistics_follow_the_model():
    model = net().train()
    average = WeightAverage(model, decay=0.99)
    model(torch.randn(4, 3))
    average.update(model)
    assert int(average.shadow["1.num_batches_tracked"]) == 1
    assert not torch.equal(average.shadow["1.running_mean"], model[1].running_mean)  # averaged, not copied


def test_applied_swaps_the_weights_in_and_back_out():
    model = net()
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model[0].bias.fill_(3.0)
    own = model[0].bias.detach().clone()
    average.update(model)
    with average.applied(model) as inside:
        assert inside is model and torch.equal(model[0].bias, average.shadow["0.bias"])
        assert not torch.equal(model[0].bias, own)
    assert torch.equal(model[0].bias, own)


def test_a_saved_average_restores_exactly_and_must_fit():
    model = net()
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.mul_(2)
    average.update(model)
    again = WeightAverage(net(), decay=0.9)
    again.load({k: v.clone() for k, v in average.shadow.items()}, average.updates)
    assert again.updates == 1 and all(torch.equal(again.shadow[k], v) for k, v in average.shadow.items())
    with pytest.raises(ValueError, match="does not fit"):
        again.load({"0.weight": average.shadow["0.weight"]}, 1)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, decay=1.0)
