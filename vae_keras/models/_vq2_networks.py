"""The networks of `VQVAE2`, built from the input shape (Razavi et al. 2019, as
rosinality/vq-vae-2-pytorch `vqvae.py` wires them), from the package's `vq_encoder` /
`vq_decoder`:

    x --bottom_encoder--> h_b (bottom grid, F channels)
    h_b --top_encoder--> z_e_top (top grid, D)                  -> top quantizer -> q_t
    [top_decoder(q_t), h_b] --1x1 conv (bottom_head)--> z_e_bottom (bottom grid, D)
                                                                -> bottom quantizer -> q_b
    [upsample(q_t), q_b] --decoder--> the likelihood's parameters

The top decoder and the upsampling crop back to the bottom grid's size where the
stride-2 convolutions rounded it up (28x28 -> 7x7 bottom -> 4x4 top -> 8x8 -> 7x7).
"""

import keras

from vae_keras.networks.conv import _downsampled
from vae_keras.networks.grid import vq_decoder, vq_encoder


def _cropped(x, size, name):
    """`x` centre-cropped to `size` = `(height, width)` (as `vq_decoder` crops)."""
    crop_h, crop_w = x.shape[1] - size[0], x.shape[2] - size[1]
    if not (crop_h or crop_w):
        return x
    return keras.layers.Cropping2D(
        ((crop_h // 2, crop_h - crop_h // 2), (crop_w // 2, crop_w - crop_w // 2)), name=name
    )(x)


def vq2_networks(input_shape, embedding_dim, filters, top_filters, output_channels):
    """`(networks, top_grid, bottom_grid)`: a dict of the four functional models
    (`bottom_encoder`, `top_encoder`, `bottom_head`, `decoder`) and the two grid sizes."""
    height, width, _ = input_shape
    bottom = (_downsampled(height, len(filters)), _downsampled(width, len(filters)))
    top = (_downsampled(bottom[0], len(top_filters)), _downsampled(bottom[1], len(top_filters)))
    features, dim = filters[-1], embedding_dim

    # === Encoders ===
    bottom_encoder = vq_encoder(input_shape, features, filters=filters, name="bottom_encoder")
    top_encoder = vq_encoder((*bottom, features), dim, filters=top_filters, name="top_encoder")

    # === The bottom codes' encoder: bottom features and the decoded top codes ===
    top_decoder = vq_decoder(
        (*top, dim), (*bottom, dim), filters=tuple(reversed(top_filters)), name="top_decoder"
    )
    h_b = keras.Input((*bottom, features), name="bottom_features")
    q_t = keras.Input((*top, dim), name="top_codes")
    joined = keras.layers.Concatenate(name="join_top")([top_decoder(q_t), h_b])
    z_e_b = keras.layers.Conv2D(dim, 1, name="z_e_bottom")(joined)
    bottom_head = keras.Model([h_b, q_t], z_e_b, name="bottom_head")

    # === Decoder: [upsampled top codes, bottom codes] -> the likelihood's parameters ===
    scale = 2 ** len(top_filters)
    body = vq_decoder(
        (*bottom, 2 * dim),
        input_shape,
        filters=tuple(reversed(filters)),
        output_channels=output_channels,
        name="image_decoder",
    )
    q_t = keras.Input((*top, dim), name="top_codes")
    q_b = keras.Input((*bottom, dim), name="bottom_codes")
    up = keras.layers.Conv2DTranspose(
        dim, 2 * scale, strides=scale, padding="same", name="upsample_top"
    )(q_t)
    up = _cropped(up, bottom, "crop_top")
    outputs = body(keras.layers.Concatenate(name="join_codes")([up, q_b]))
    decoder = keras.Model([q_t, q_b], outputs, name="decoder")
    networks = {
        "bottom_encoder": bottom_encoder,
        "top_encoder": top_encoder,
        "bottom_head": bottom_head,
        "decoder": decoder,
    }
    return networks, top, bottom
