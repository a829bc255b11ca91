import pytest
import torch
import torch.nn as nn

from gankit.configure import load_config
from gankit.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gankit.recipes.nets import build_nets
from gankit.nets.dcgan import Projection
from gankit.accel.linear import MIN_FEATURES, Linear, onednn_linear, use_onednn
from gankit.nets.mlp import Maxout
from gankit.accel.thin_conv import MAX_PATCH, Conv2d, ConvTranspose2d, use_product_path
from gankit.nets.remedies import flatten_features


@pytest.mark.parametrize("resolution", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_at_every_resolution(resolution, channels):
    g, d = DCGANGenerator(16, resolution, channels, 8), DCGANDiscriminator(resolution, channels, 8)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, resolution, resolution)
    assert x.abs().max() <= 1.0  # tanh output
    assert d(x).shape == (3,)


@pytest.mark.parametrize("resolution", [28, 32, 64])
def test_dcgan_refined_generator_adds_one_3x3_conv_per_stage(resolution):
    plain, refined = DCGANGenerator(16, resolution, 1, 8), DCGANGenerator(16, resolution, 1, 8, refine=True)
    assert refined(torch.randn(3, 16)).shape == (3, 1, resolution, resolution)
    extra = [m for m in refined.modules() if isinstance(m, nn.Conv2d)]
    transposed = [m for m in plain.modules() if isinstance(m, nn.ConvTranspose2d)]
    # one refinement after every stage but the last (which outputs the image through tanh)
    assert len(extra) == len(transposed) - 1 and all(m.kernel_size == (3, 3) and m.stride == (1, 1) for m in extra)
    assert all(m.in_channels == m.out_channels for m in extra)


def test_dcgan_follows_radford():
    cfg = load_config("dcgan-mnist", ["model.g_width=16", "model.d_width=16"])
    g, d = build_nets(cfg, (1, 28, 28))
    g_layers, d_layers = list(g.net), list(d.features)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)  # no BN at G's output
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)  # no BN at D's input
    assert d_layers[1].negative_slope == 0.2
    assert any(isinstance(m, nn.BatchNorm2d) for m in g.modules()) and any(isinstance(m, nn.ReLU) for m in g.modules())
    assert not any(isinstance(m, (nn.MaxPool2d, nn.Linear)) for m in g.modules())  # all-convolutional G
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]  # D: only the flattened output unit
    assert linears == [d.head] and d.head.out_features == 1
    assert not any(isinstance(m, nn.MaxPool2d) for m in d.modules())
    convs = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(convs.std().item() - 0.02) < 0.002 and abs(convs.mean().item()) < 0.002


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (2,), (1,)])
def test_mlp_shapes(shape):
    g, d = MLPGenerator(10, shape, 32, 2, tanh=len(shape) == 3), MLPDiscriminator(shape, 16, 2, pieces=3, dropout=0.2)
    x = g(torch.randn(4, 10))
    assert x.shape == (4, *shape) and d(x).shape == (4,)


def test_mlp_generator_batch_norm_option():
    plain = build_nets(load_config("ring", ["model.g_width=8"]), (2,))[0]
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
    g = build_nets(load_config("ring", ["model.g_width=8", "model.g_layers=3", "model.g_batch_norm=true"]), (2,))[0]
    layers = list(g.net)
    norms = [i for i, m in enumerate(layers) if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 3  # one per hidden layer, between its Linear (no bias) and its ReLU
    assert all(isinstance(layers[i - 1], nn.Linear) and layers[i - 1].bias is None for i in norms)
    assert all(isinstance(layers[i + 1], nn.ReLU) for i in norms)
    assert isinstance(layers[-1], nn.Linear) and layers[-1].bias is not None  # points: no BN or tanh at the output
    g.eval()
    assert g(torch.randn(1, g.z_dim)).shape == (1, 2)  # eval mode: running statistics, any batch size


def test_maxout_takes_the_max_of_its_pieces():
    layer = Maxout(2, units=1, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        layer.linear.bias.zero_()
    out = layer(torch.tensor([[2.0, 5.0], [-3.0, -4.0]]))
    assert out.squeeze(1).tolist() == [5.0, 7.0]
    # Two units: the linear map's rows are piece-major, [piece 0 of units 0, 1; piece 1 of units 0, 1].
    layer = Maxout(1, units=2, pieces=2)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [2.0], [-1.0], [-3.0]]))
        layer.linear.bias.zero_()
    x = torch.tensor([[1.0], [-1.0]], requires_grad=True)
    out = layer(x)
    assert out.tolist() == [[1.0, 2.0], [1.0, 3.0]]  # unit 0: max(x, -x); unit 1: max(2x, -3x)
    out.sum().backward()
    assert x.grad.squeeze(1).tolist() == [1.0 + 2.0, -1.0 - 3.0]  # the winning pieces' slopes


@pytest.mark.parametrize("overrides", [[], ["remedies.minibatch_disc=4"]])
def test_a_channels_last_critic_gives_the_same_logits_and_gradients(overrides):
    """Training runs D in channels-last; its maps are flattened height, width, channel in either
    layout. Logits, the input gradient and every weight gradient must match the NCHW critic."""
    torch.manual_seed(0)
    _, D = build_nets(load_config("dcgan-mnist", ["model.d_width=8", *overrides]), (1, 28, 28))
    D_cl = build_nets(load_config("dcgan-mnist", ["model.d_width=8", *overrides]), (1, 28, 28))[1]
    D_cl.load_state_dict(D.state_dict())
    D_cl = D_cl.to(memory_format=torch.channels_last)
    x = torch.randn(6, 1, 28, 28)
    grads = []
    for net, inp in [(D, x.clone()), (D_cl, x.clone().contiguous(memory_format=torch.channels_last))]:
        inp.requires_grad_(True)
        out = net(inp)
        out.square().sum().backward()
        grads.append((out.detach(), inp.grad, [p.grad for p in net.parameters()]))
    (out, gx, gp), (out_cl, gx_cl, gp_cl) = grads
    assert torch.allclose(out, out_cl, atol=1e-5)
    assert torch.allclose(gx, gx_cl, atol=1e-5)
    for a, b in zip(gp, gp_cl):
        assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_projection_is_the_transposed_convolution_on_1x1_it_replaces(channels_last):
    """G's first layer runs as a matrix product; values, gradients and the layout of its map must be
    those of the ConvTranspose2d whose weights it keeps."""
    torch.manual_seed(0)
    proj = Projection(6, 5, 4)
    conv = nn.ConvTranspose2d(6, 5, 4, 1, 0, bias=False)
    conv.weight.data.copy_(proj.weight.data)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    proj, conv = proj.to(memory_format=layout), conv.to(memory_format=layout)
    z = torch.randn(3, 6, 1, 1)
    out, ref = proj(z), conv(z)
    assert out.shape == (3, 5, 4, 4) and torch.allclose(out, ref, atol=1e-6)
    assert out.is_contiguous(memory_format=layout)
    g = torch.randn_like(ref)
    (out * g).sum().backward()
    (ref * g).sum().backward()
    assert torch.allclose(proj.weight.grad, conv.weight.grad, atol=1e-5)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_features_flatten_height_width_channel_and_hand_gradients_back_in_the_maps_layout(layout):
    h0 = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    h = h0.clone().contiguous(memory_format=layout).requires_grad_(True)
    mid = h * 1.0  # a non-leaf map, as D's last activation is
    v = flatten_features(mid)
    seen = []
    mid.register_hook(lambda grad: seen.append(grad))  # runs after flatten_features' own hook
    # sample 0's vector: pixel (0,0) channels 0..2, then pixel (0,1), ...
    assert v.shape == (2, 12) and v[0, :6].tolist() == [0.0, 4.0, 8.0, 1.0, 5.0, 9.0]
    assert torch.equal(v, h0.permute(0, 2, 3, 1).reshape(2, -1))
    w = torch.randn(12)
    (v * w).sum().backward()
    assert torch.equal(h.grad, w.view(1, 2, 2, 3).permute(0, 3, 1, 2).expand(2, -1, -1, -1))
    assert seen[0].is_contiguous(memory_format=layout) and seen[0].stride() == mid.stride()


@pytest.mark.parametrize("rows, n_in, n_out, bias", [(128, 784, 1280, True), (64, 256, 1, True), (5, 3, 4, False)])
def test_onednn_linear_matches_f_linear_through_a_double_backward(rows, n_in, n_out, bias):
    """Values, the input gradient taken with create_graph (a gradient penalty) and every gradient of
    a loss on both must be F.linear's."""
    torch.manual_seed(0)
    x, w = torch.randn(rows, n_in, requires_grad=True), torch.randn(n_out, n_in, requires_grad=True)
    b = torch.randn(n_out, requires_grad=True) if bias else None
    params = [x, w] + ([b] if bias else [])
    results = []
    for linear in (nn.functional.linear, onednn_linear):
        y = linear(x, w, b)
        gx, = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        plain = torch.autograd.grad(y.sum(), params, retain_graph=True)  # its output gradient: an expanded 1 (stride 0)
        results.append([y, gx, *plain, *torch.autograd.grad(y.sum() + gx.square().sum(), params)])
    for ref, got in zip(*results):
        assert torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())


def test_onednn_linear_leaves_autocast_and_leading_dimensions_to_f_linear_rules():
    x, w = torch.randn(2, 3, 8), torch.randn(4, 8)
    assert torch.allclose(onednn_linear(x, w), nn.functional.linear(x, w), atol=1e-5)
    assert onednn_linear(x, w).shape == (2, 3, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 autocast: F.linear, in bf16
        assert onednn_linear(x, w).dtype == torch.bfloat16


def test_use_onednn_switches_only_layers_large_enough_and_keeps_nn_linear_state():
    """vanilla-mnist's nets: G 100 -> 512 -> 512 -> 784, D 784 -> 5 x 256 -> 5 x 256 -> 1."""
    G, D = build_nets(load_config("vanilla-mnist"), (1, 28, 28))
    keys = set(G.state_dict()) | set(D.state_dict())
    assert use_onednn(G) == 2 and use_onednn(D) == 2
    switched = [(m.in_features, m.out_features) for net in (G, D) for m in net.modules() if isinstance(m, Linear) and m.onednn]
    assert switched == [(512, 512), (512, 784), (784, 1280), (256, 1280)]
    assert all(min(shape) >= MIN_FEATURES for shape in switched)
    assert set(G.state_dict()) | set(D.state_dict()) == keys and all(isinstance(m, nn.Linear) for m in G.modules() if isinstance(m, Linear))
    x = torch.randn(4, 1, 28, 28)
    D.eval()
    on = D(x)
    assert use_onednn(D, False) == 0 and torch.allclose(D(x), on, atol=1e-5)


# ---- convolutions onto thin maps as products ----------------------------------------------------
THIN_GEOMETRIES = [  # (thin channels, wide channels, kernel, stride, padding, output_padding, thin size)
    (1, 64, 4, 2, 1, 0, 28),  # DCGAN's image layers
    (3, 16, 3, 1, 1, 0, 9),  # SRGAN D's first
    (2, 5, 4, 2, 0, 1, 12),  # no padding; the transposed convolution's output_padding adds a row
    (1, 6, 6, 3, 2, 0, 12),  # kernel twice the stride, not 2
    (3, 7, 1, 1, 0, 0, 5),
]


@pytest.mark.parametrize("thin, wide, k, s, p, out_pad, size", THIN_GEOMETRIES)
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_thin_convolutions_match_pytorch_through_a_double_backward(thin, wide, k, s, p, out_pad, size, layout):
    """The product path of a convolution from a thin map and of a transposed convolution onto one:
    values, the input gradient with create_graph (R1, WGAN-GP) and every gradient of a loss on both
    must be PyTorch's own convolutions'."""
    torch.manual_seed(0)
    conv = Conv2d(thin, wide, k, s, p).to(memory_format=layout)
    x = torch.randn(3, thin, size, size).contiguous(memory_format=layout).requires_grad_()
    wide_size = (size + 2 * p - k) // s + 1
    convt = ConvTranspose2d(wide, thin, k, s, p, output_padding=out_pad).to(memory_format=layout)
    y = torch.randn(3, wide, wide_size, wide_size).contiguous(memory_format=layout).requires_grad_()
    for module, inp in ((conv, x), (convt, y)):
        assert use_product_path(module) == 1
        params = [inp, module.weight, module.bias]
        results = []
        for on in (False, True):
            module.product_path = on
            out = module(inp)
            g_in, = torch.autograd.grad(nn.functional.leaky_relu(out, 0.2).square().sum(), inp, create_graph=True)
            results.append([out, g_in, *torch.autograd.grad(out.sum() + g_in.square().sum(), params)])
        assert results[0][0].shape == results[1][0].shape
        for ref, got in zip(*results):
            assert torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())


def test_use_product_path_switches_the_image_side_layers_only_and_keeps_their_state():
    """dcgan-mnist's nets: G's last layer (64 -> 1) and D's first (1 -> 64); not the wide layers, nor a
    thin layer whose kernel is too large or not a multiple of its stride."""
    G, D = build_nets(load_config("dcgan-mnist"), (1, 28, 28))
    keys = set(G.state_dict()) | set(D.state_dict())
    assert use_product_path(G) == 1 and use_product_path(D) == 1
    switched = [m for net in (G, D) for m in net.modules() if getattr(m, "product_path", False)]
    assert [(type(m), m.in_channels, m.out_channels) for m in switched] == [(ConvTranspose2d, 64, 1), (Conv2d, 1, 64)]
    assert set(G.state_dict()) | set(D.state_dict()) == keys
    assert use_product_path(Conv2d(3, 64, 9, 1, 4)) == 0 and 3 * 9 * 9 > MAX_PATCH  # SRResNet's head
    assert use_product_path(Conv2d(1, 64, 3, 2, 1)) == 0  # 3x3 stride 2: patches are not whole 2x2 blocks
    assert use_product_path(Conv2d(64, 128, 4, 2, 1)) == 0
    x = torch.randn(4, 1, 28, 28)
    D.eval()
    on = D(x)
    assert use_product_path(D, False) == 0 and torch.allclose(D(x), on, atol=1e-5)


def test_the_product_path_leaves_autocast_to_pytorch():
    convt = ConvTranspose2d(8, 1, 4, 2, 1)
    use_product_path(convt)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert convt(torch.randn(2, 8, 7, 7)).dtype == torch.bfloat16
