//! A small reproducible PRNG, so every benchmark's data is the same from
//! run to run without a dependency.

/// xorshift64*: fast, reproducible, good enough for synthetic data.
pub struct Rng(pub u64);

impl Rng {
    /// A generator for item `index` of a data set, independent of every
    /// other item's: data can be generated in any order or thread and is
    /// still the same. The state is mixed with splitmix64 (xorshift needs
    /// a well-spread, non-zero state).
    pub fn for_item(seed: u64, index: u64) -> Rng {
        let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for synthetic data, no division.
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// One of `items`, uniformly; `items` must not be empty.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let index = self.below(items.len() as u64) as usize;
        items[index.min(items.len().saturating_sub(1))]
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
