"""The test view 'resize' (the whole image resized to side x side, as the paper and
MetaIQA test): the host bank, the device bank and the host stager give the same bytes,
always the same, with the decoded cache's own filter (PIL bicubic)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from bench.data.bank import ImageBank, resize_images
from bench.data.device_bank import DeviceBank, HostStager


def framed_bank(size: int = 32) -> ImageBank:
    """Two arrays (3 + 2 images) of noise inside a 4 px frame whose colour is the image's
    global index * 40 (the frame is what a centre crop cuts away)."""
    rng = np.random.default_rng(0)
    arrays, g = [], 0
    for n in (3, 2):
        a = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        for k in range(n):
            a[k, :4], a[k, -4:], a[k, :, :4], a[k, :, -4:] = (g + k) * 40, (g + k) * 40, (g + k) * 40, (g + k) * 40
        arrays.append(a)
        g += n
    return ImageBank(arrays)


def test_resized_images_are_the_whole_images_through_pil_bicubic():
    bank = framed_bank()
    idx = np.array([4, 0, 2, 3])
    views = bank.resized_images(idx, 24)
    assert views.shape == (4, 24, 24, 3) and views.dtype == np.uint8
    for k, g in enumerate(idx):
        want = np.asarray(Image.fromarray(bank.image(g)).resize((24, 24), Image.BICUBIC))
        np.testing.assert_array_equal(views[k], want)
        assert (views[k, 0, 0] == g * 40).all()  # the frame is kept: the whole image, not a crop
    np.testing.assert_array_equal(bank.resized_images(idx, 24), views)  # deterministic


def test_resized_images_at_the_cached_size_are_the_images():
    bank = framed_bank()
    views = bank.resized_images(np.array([1, 3]), 32)
    np.testing.assert_array_equal(views, np.stack([bank.image(1), bank.image(3)]))
    np.testing.assert_array_equal(resize_images(views, 32), views)


def test_device_bank_and_stager_give_the_host_bytes():
    bank = framed_bank()
    idx = np.array([0, 4, 1])
    host = bank.resized_images(idx, 20)
    dev = DeviceBank(bank, "cpu").resized_images(idx, 20)
    assert isinstance(dev, torch.Tensor) and dev.dtype == torch.uint8
    np.testing.assert_array_equal(dev.numpy(), host)
    np.testing.assert_array_equal(HostStager("cpu").resized_images(bank, idx, 20).numpy(), host)
