"""placeholder"""

def run_partition(*a, **k):
    raise NotImplementedError
