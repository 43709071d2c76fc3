package change

import (
	"math/big"
	"strconv"
	"strings"
)

// maxExponent bounds the decimal exponent of a number read exactly: past
// it a number is out of any range gcupsert writes, and reading it exactly
// would cost memory (1e100000000 has a hundred million digits).
const maxExponent = 400

// CanonicalNumber is the one text of a JSON number's value: an integer
// without fraction or exponent ("1", "1.0" and "1e0" are "1"), any other
// number as its shortest exact decimal ("1.50" is "1.5"). It reports false
// for text that is not a number or whose exponent is beyond ±400.
func CanonicalNumber(s string) (string, bool) {
	r, ok := exactNumber(s)
	if !ok {
		return "", false
	}
	if r.IsInt() {
		return r.Num().String(), true
	}
	// A decimal's denominator is 2^a 5^b: max(a, b) digits are exact.
	d := new(big.Int).Set(r.Denom())
	digits := 0
	for _, p := range []int64{2, 5} {
		n, q, m := 0, big.NewInt(p), new(big.Int)
		for {
			quo, rem := new(big.Int).QuoRem(d, q, m)
			if rem.Sign() != 0 {
				break
			}
			d, n = quo, n+1
		}
		digits = max(digits, n)
	}
	return r.FloatString(digits), true
}

// exactNumber reads s as an exact rational, refusing huge exponents.
func exactNumber(s string) (*big.Rat, bool) {
	if s == "" || len(s) > 1024 {
		return nil, false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}
