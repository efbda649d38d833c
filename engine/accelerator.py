"""torch.accelerator's queries: engine has no accelerator, so tutorials fall back to "cpu"."""


def is_available():
    return False


def current_accelerator(check_available=False):
    return None


def device_count():
    return 0
