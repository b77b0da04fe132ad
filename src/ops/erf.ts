/*
 * The error function in float64, after FreeBSD's s_erf.c (fdlibm), whose notice follows:
 *
 * ====================================================
 * Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *
 * Developed at SunPro, a Sun Microsystems, Inc. business.
 * Permission to use, copy, modify, and distribute this
 * software is freely granted, provided that this notice
 * is preserved.
 * ====================================================
 *
 * Rational approximations on [0, 0.84375), [0.84375, 1.25), [1.25, 1/0.35) and [1/0.35, 6),
 * each within an ulp or so; Math has no erf, and the one-line approximations that circulate
 * (Abramowitz–Stegun 7.1.26) are good to 1e-7 only, too coarse for a float64 gradient check.
 */

const polynomial = (coefficients: readonly number[]) => (z: number) => {
  let value = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) value = value * z + coefficients[i];
  return value;
};

const EFX = 1.28379167095512586316e-1; // 2/√π − 1
const SMALL = 2 ** -28;
const ERX = 8.45062911510467529297e-1; // erf(1) rounded to 24 bits

// erf(x) = x + x·P(x²)/Q(x²) on [0, 0.84375).
const pp = polynomial([1.28379167095512558561e-1, -3.25042107247001499370e-1, -2.84817495755985104766e-2, -5.77027029648944159157e-3, -2.37630166566501626084e-5]);
const qq = polynomial([1, 3.97917223959155352819e-1, 6.50222499887672944485e-2, 5.08130628187576562776e-3, 1.32494738004321644526e-4, -3.96022827877536812320e-6]);
// erf(1 + s) = ERX + P(s)/Q(s) on [0.84375, 1.25).
const pa = polynomial([-2.36211856075265944077e-3, 4.14856118683748331666e-1, -3.72207876035701323847e-1, 3.18346619901161753674e-1, -1.10894694282396677476e-1, 3.54783043256182359371e-2, -2.16637559486879084300e-3]);
const qa = polynomial([1, 1.06420880400844228286e-1, 5.40397917702171048937e-1, 7.18286544141962662868e-2, 1.26171219808761642112e-1, 1.36370839120290507362e-2, 1.19844998467991074170e-2]);
// erfc(x) = exp(−x² − 0.5625 + R(1/x²)/S(1/x²)) / x on [1.25, 1/0.35) and [1/0.35, 6).
const ra = polynomial([-9.86494403484714822705e-3, -6.93858572707181764372e-1, -1.05586262253232909814e1, -6.23753324503260060396e1, -1.62396669462573470355e2, -1.84605092906711035994e2, -8.12874355063065934246e1, -9.81432934416914548592]);
const sa = polynomial([1, 1.96512716674392571292e1, 1.37657754143519042600e2, 4.34565877475229228821e2, 6.45387271733267880336e2, 4.29008140027567833386e2, 1.08635005541779435134e2, 6.57024977031928170135, -6.04244152148580987438e-2]);
const rb = polynomial([-9.86494292470009928597e-3, -7.99283237680523006574e-1, -1.77579549177547519889e1, -1.60636384855821916062e2, -6.37566443368389627722e2, -1.02509513161107724954e3, -4.83519191608651397019e2]);
const sb = polynomial([1, 3.03380607434824582924e1, 3.25792512996573918826e2, 1.53672958608443695994e3, 3.19985821950859553908e3, 2.55305040643316442583e3, 4.74528541206955367215e2, -2.24409524465858183362e1]);

// x with the low 32 bits of its mantissa cleared, so that z·z is exact (fdlibm's SET_LOW_WORD).
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
function truncated(x: number): number {
  bits[0] = x;
  words[LOW] = 0;
  return bits[0];
}

export function erf(x: number): number {
  if (x !== x) return NaN;
  const a = Math.abs(x);
  const sign = x < 0 ? -1 : 1;
  if (a < 0.84375) {
    if (a < SMALL) return x + EFX * x;
    const z = x * x;
    return x + x * (pp(z) / qq(z));
  }
  if (a < 1.25) {
    const s = a - 1;
    return sign * (ERX + pa(s) / qa(s));
  }
  if (a >= 6) return sign;
  const s = 1 / (a * a);
  const ratio = a < 1 / 0.35 ? ra(s) / sa(s) : rb(s) / sb(s);
  // −x² split as −z² + (z − x)(z + x) keeps the digits that exp(−x²) would lose.
  const z = truncated(a);
  const erfc = (Math.exp(-z * z - 0.5625) * Math.exp((z - a) * (z + a) + ratio)) / a;
  return sign * (1 - erfc);
}
