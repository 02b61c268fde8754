package xfrm

import (
	"fmt"
	"net/netip"
	"slices"
)

// AnyAlgorithms is the algorithm mask (Template.Aalgos, Ealgos, Calgos)
// that lets an SA of any algorithm answer a template, as ip xfrm writes
// it. A mask of 0 lets none: no SA would ever match the template.
const AnyAlgorithms = anyAlgos

// completePolicy fills in what a caller may leave out of a policy to write
// (a zero Family: the family of the addresses; a template's: its
// addresses', else the selector's), clears the mark's bits outside its
// mask (see completeID), and refuses what the kernel could only
// misread: an address of another family than the one it is read with.
// The caller's templates are not changed.
func completePolicy(p Policy) (Policy, error) {
	if err := completeSelector(&p.Sel); err != nil {
		return Policy{}, err
	}
	f := p.Sel.Family
	if f != AFInet && f != AFInet6 {
		return Policy{}, fmt.Errorf("policy selector %s -> %s: family %d, want AFInet or AFInet6", p.Sel.Src, p.Sel.Dst, f)
	}
	p.Mark &= p.Mask
	p.Tmpls = slices.Clone(p.Tmpls)
	for i := range p.Tmpls {
		t := &p.Tmpls[i]
		if t.Family == 0 {
			t.Family = familyOf(t.Dst)
		}
		if t.Family == 0 {
			t.Family = familyOf(t.Src)
		}
		if t.Family == 0 {
			t.Family = f
		}
		for _, a := range []netip.Addr{t.Src, t.Dst} {
			if a.IsValid() && familyOf(a) != t.Family {
				return Policy{}, fmt.Errorf("policy template %d: %s is not of the template's family %d", i, a, t.Family)
			}
		}
	}
	return p, nil
}

// completeID completes a policy's name for a delete or a get: its
// selector, and its mark. The kernel keeps a policy's mark as mark & mask
// (0x11/0xf reads back 0x1/0xf) and finds one by the mark it keeps, so
// that the bits of the mark outside the mask are cleared, as they are for
// a policy written.
func completeID(id *Policy) error {
	id.Mark &= id.Mask
	return completeSelector(&id.Sel)
}

// completeSelector takes a zero Family from the addresses, and refuses an
// address of another family than the selector's. A selector without
// addresses (a policy named by its index) stays as it is.
func completeSelector(s *Selector) error {
	if s.Family == 0 {
		s.Family = familyOf(s.Src.Addr())
		if s.Family == 0 {
			s.Family = familyOf(s.Dst.Addr())
		}
	}
	for _, a := range []netip.Prefix{s.Src, s.Dst} {
		if a.IsValid() && familyOf(a.Addr()) != s.Family {
			return fmt.Errorf("policy selector %s -> %s: %s is not of the selector's family %d", s.Src, s.Dst, a, s.Family)
		}
	}
	return nil
}
