"""A small decoder in the usual PyTorch style: features grown back into an image with
Unflatten, transposed convolutions, resizing and LayerNorm, then scored by a linear head."""

import torch.nn as nn
import torch.nn.functional as F


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 8 * 4 * 4)
        self.unflatten = nn.Unflatten(1, (8, 4, 4))
        self.deconv1 = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.norm = nn.LayerNorm([6, 8, 8])
        self.drop = nn.Dropout2d(0.2)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.deconv2 = nn.ConvTranspose2d(6, 1, 2, stride=2, bias=False)
        self.head = nn.Linear(16 * 16, 10)

    def forward(self, x):
        x = self.unflatten(F.relu(self.fc(x)))
        x = self.drop(F.relu(self.norm(self.deconv1(x))))
        x = F.interpolate(self.up(x), scale_factor=0.5)
        return self.head(self.deconv2(x).flatten(1))
