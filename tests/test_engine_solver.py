import pytest
import torch

from personsearch.engine.solver import build_sgd, build_warmup_step_lr, lr_factor


def _lrs(scheduler, optimizer, steps):
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_warmup_then_step_decay_values():
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = build_sgd([param], lr=0.1, momentum=0.9, weight_decay=5e-4)
    # 4 iterations per epoch, warm-up over the first epoch, decay after epochs 2 and 3.
    scheduler = build_warmup_step_lr(
        optimizer, iters_per_epoch=4, milestones_epochs=[2, 3], gamma=0.1, warmup_epochs=1, warmup_factor=0.01
    )
    lrs = _lrs(scheduler, optimizer, 16)
    expected_warmup = [0.1 * (0.01 * (1 - a) + a) for a in (0.0, 0.25, 0.5, 0.75)]
    assert lrs[:4] == pytest.approx(expected_warmup)
    assert lrs[4:8] == pytest.approx([0.1] * 4)
    assert lrs[8:12] == pytest.approx([0.01] * 4)
    assert lrs[12:16] == pytest.approx([0.001] * 4)
    assert optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.param_groups[0]["weight_decay"] == 5e-4


def test_schedule_state_round_trip_continues_identically():
    def make():
        param = torch.nn.Parameter(torch.zeros(1))
        opt = build_sgd([param], lr=1.0)
        return opt, build_warmup_step_lr(opt, iters_per_epoch=3, milestones_epochs=[1], warmup_epochs=0.5)

    opt_a, sched_a = make()
    reference = _lrs(sched_a, opt_a, 6)
    opt_b, sched_b = make()
    _lrs(sched_b, opt_b, 2)
    opt_c, sched_c = make()
    opt_c.load_state_dict(opt_b.state_dict())
    sched_c.load_state_dict(sched_b.state_dict())
    assert _lrs(sched_c, opt_c, 4) == pytest.approx(reference[2:])


def test_lr_factor_milestone_inside_warmup_and_validation():
    assert lr_factor(0, warmup_iters=0, warmup_factor=0.5, milestones=[], gamma=0.1) == 1.0
    assert lr_factor(2, warmup_iters=4, warmup_factor=0.0 + 1e-3, milestones=[1], gamma=0.5) == pytest.approx(
        0.5 * (1e-3 * 0.5 + 0.5)
    )
    param = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError, match="increasing"):
        build_warmup_step_lr(build_sgd([param], lr=1.0), iters_per_epoch=2, milestones_epochs=[3, 1])
    with pytest.raises(ValueError, match="no trainable"):
        build_sgd([torch.nn.Parameter(torch.zeros(1), requires_grad=False)], lr=1.0)
