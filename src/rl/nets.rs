//! The networks: MLPs, a tanh-squashed Gaussian actor and twin Q critics.
//!
//! Written once for every burn backend: the device chosen at run time picks
//! the backend (the CPU `flex` backend by default).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// A two-hidden-layer ReLU perceptron.
#[derive(Config, Debug)]
pub struct MlpConfig {
    pub input: usize,
    pub output: usize,
    /// Width of both hidden layers.
    #[config(default = 64)]
    pub hidden: usize,
}

#[derive(Module, Debug)]
pub struct Mlp {
    l1: Linear,
    l2: Linear,
    out: Linear,
}

impl MlpConfig {
    pub fn init(&self, device: &Device) -> Mlp {
        Mlp {
            l1: LinearConfig::new(self.input, self.hidden).init(device),
            l2: LinearConfig::new(self.hidden, self.hidden).init(device),
            out: LinearConfig::new(self.hidden, self.output).init(device),
        }
    }
}

impl Mlp {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.l1.forward(x));
        let h = relu(self.l2.forward(h));
        self.out.forward(h)
    }
}

/// Bounds of the actor's log standard deviation.
const LOG_STD_MIN: f64 = -5.0;
const LOG_STD_MAX: f64 = 2.0;

/// Gaussian policy squashed by tanh into [−1, 1]^A.
#[derive(Module, Debug)]
pub struct Actor {
    net: Mlp,
    action_dim: usize,
}

impl Actor {
    pub fn new(input: usize, action_dim: usize, hidden: usize, device: &Device) -> Self {
        Self { net: MlpConfig::new(input, 2 * action_dim).with_hidden(hidden).init(device), action_dim }
    }

    /// Mean and log standard deviation (the latter smoothly bounded).
    pub fn distribution(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let out = self.net.forward(x);
        let mean = out.clone().narrow(1, 0, self.action_dim);
        let raw = out.narrow(1, self.action_dim, self.action_dim);
        let log_std = raw.tanh().add_scalar(1.0).mul_scalar(0.5 * (LOG_STD_MAX - LOG_STD_MIN)).add_scalar(LOG_STD_MIN);
        (mean, log_std)
    }

    /// The deterministic action: tanh of the mean.
    pub fn deterministic(&self, x: Tensor<2>) -> Tensor<2> {
        self.distribution(x).0.tanh()
    }

    /// A reparameterised sample with the given standard-normal noise, and
    /// its log-probability (B × 1) including the tanh correction.
    pub fn sample(&self, x: Tensor<2>, noise: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (mean, log_std) = self.distribution(x);
        let u = mean + log_std.clone().exp() * noise.clone();
        let action = u.tanh();
        let half_log_two_pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let gaussian = (noise.square().mul_scalar(-0.5) - log_std).sub_scalar(half_log_two_pi);
        let squash = (action.clone().square().neg().add_scalar(1.0 + 1e-6)).log();
        let log_prob = (gaussian - squash).sum_dim(1);
        (action, log_prob)
    }
}

/// Two independent Q(s, a) networks (clipped double-Q).
#[derive(Module, Debug)]
pub struct TwinCritic {
    q1: Mlp,
    q2: Mlp,
}

impl TwinCritic {
    pub fn new(input: usize, action_dim: usize, hidden: usize, device: &Device) -> Self {
        let config = MlpConfig::new(input + action_dim, 1).with_hidden(hidden);
        Self { q1: config.init(device), q2: config.init(device) }
    }

    pub fn forward(&self, x: Tensor<2>, action: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let xa = Tensor::cat(vec![x, action], 1);
        (self.q1.forward(xa.clone()), self.q2.forward(xa))
    }
}

/// The entropy temperature α, learned through log α.
#[derive(Module, Debug)]
pub struct Temperature {
    pub log_alpha: Param<Tensor<1>>,
}

impl Temperature {
    pub fn new(initial_alpha: f64, device: &Device) -> Self {
        let value = Tensor::<1>::from_floats([initial_alpha.ln() as f32], device);
        Self { log_alpha: Param::from_tensor(value) }
    }

    pub fn alpha(&self) -> f32 {
        self.log_alpha.val().exp().into_scalar::<f32>()
    }
}

/// All of a module's parameters as one flat vector (a fixed traversal order).
pub fn parameters<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(param.val().into_data().try_into_vec::<f32>().expect("f32 parameters"));
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// Replaces a module's parameters with `values` (as returned by [`parameters`]).
pub fn with_parameters<M: Module>(module: M, values: &[f32]) -> M {
    struct Assign<'a>(&'a [f32], usize);
    impl ModuleMapper for Assign<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let (shape, device) = (t.shape(), t.device());
                let n = shape.num_elements();
                let chunk = self.0[self.1..self.1 + n].to_vec();
                self.1 += n;
                let require_grad = t.is_require_grad();
                Tensor::from_data(TensorData::new(chunk, shape), &device).set_require_grad(require_grad)
            })
        }
    }
    let mut a = Assign(values, 0);
    let module = module.map(&mut a);
    assert_eq!(a.1, values.len(), "parameter count mismatch");
    module
}

/// Re-initialises every parameter from our own seeded generator, as
/// PyTorch's `Linear` does: weights and biases uniform in ±1/√fan_in.
/// burn's own initialiser draws from a device-wide generator that another
/// thread (a second training, a test) could advance; ours cannot be.
pub fn init_parameters<M: Module>(module: M, rng: &mut crate::rng::Rng) -> M {
    struct Init<'a> {
        rng: &'a mut crate::rng::Rng,
        fan_in: usize,
    }
    impl ModuleMapper for Init<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let (shape, device) = (t.shape(), t.device());
                let dims = shape.dims::<D>();
                if D == 2 {
                    // burn stores Linear weights as [in, out].
                    self.fan_in = dims[0];
                }
                let bound = 1.0 / (self.fan_in.max(1) as f32).sqrt();
                let data: Vec<f32> = (0..shape.num_elements()).map(|_| rand::RngExt::random_range(&mut *self.rng, -bound..bound)).collect();
                let require_grad = t.is_require_grad();
                Tensor::from_data(TensorData::new(data, shape), &device).set_require_grad(require_grad)
            })
        }
    }
    module.map(&mut Init { rng, fan_in: 1 })
}

/// A row-major batch as a tensor.
pub fn tensor(data: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// A tensor's values, row-major.
pub fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 tensor")
}
