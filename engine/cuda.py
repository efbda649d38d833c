"""torch.cuda's queries, so device-picking tutorial lines run: engine computes on the CPU only."""


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Accepted for compatibility: there is no GPU generator to seed."""


manual_seed_all = manual_seed
