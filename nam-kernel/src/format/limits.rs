//! Upper bounds on model dimensions. A file beyond them is refused with
//! [`FormatError::TooLarge`](crate::error::FormatError::TooLarge) before anything
//! is allocated. They are far above any published NAM model (the largest
//! common WaveNet has 16 channels and a receptive field of about 6 000 samples).

/// Channels of any convolution or hidden state.
pub const MAX_CHANNELS: usize = 1024;
/// Taps of one WaveNet/ConvNet convolution kernel.
pub const MAX_KERNEL_SIZE: usize = 1024;
/// Dilation of one convolution.
pub const MAX_DILATION: usize = 1 << 16;
/// Layers in one WaveNet layer array, or blocks in a ConvNet or post-stack head.
pub const MAX_LAYERS: usize = 1024;
/// Layer arrays in one WaveNet.
pub const MAX_LAYER_ARRAYS: usize = 64;
/// Receptive field of a whole model, in samples (about 11 s at 48 kHz).
pub const MAX_RECEPTIVE_FIELD: usize = 1 << 19;
/// LSTM layers.
pub const MAX_LSTM_LAYERS: usize = 64;
/// Submodels of a SlimmableContainer.
pub const MAX_SUBMODELS: usize = 64;
/// Nesting of documents (condition DSPs, container submodels).
pub const MAX_NESTING_DEPTH: usize = 4;
/// Highest sample rate a file may declare.
pub const MAX_SAMPLE_RATE_HZ: f64 = 1_536_000.0;
/// Floats of processing state one model may need (1 GiB of `f32`).
pub const MAX_STATE_FLOATS: usize = 1 << 28;
/// Size of a `.nam` file, checked before it is read (64 MiB: the largest
/// published models are a few MiB of JSON).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Multiply-adds per sample of one model ([`crate::format::macs`]): 2^18 =
/// 262 144, about 20 times the trainer's standard WaveNet (13 320) and the
/// largest fixture (A2, 11 776); at 48 kHz that is 12.6 G multiply-adds per
/// second, beyond real time on the CPUs NAM runs on.
pub const MAX_MACS_PER_SAMPLE: u64 = 1 << 18;
