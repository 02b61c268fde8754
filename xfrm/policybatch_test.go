package xfrm

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// samePolicy compares every field of Policy but Index and AddTime: a
// field added to Policy must be added there too (or here, if the kernel
// decides it).
func TestSamePolicyFields(t *testing.T) {
	ignored := map[string]bool{"Index": true, "AddTime": true}
	base := Policy{Sel: Selector{Family: AFInet, Src: netip.MustParsePrefix("10.0.0.0/8")}, Tmpls: []Template{{Reqid: 1}}}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		other := base
		other.Tmpls = []Template{{Reqid: 1}}
		v := reflect.ValueOf(&other).Elem().Field(i)
		switch v.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v.SetUint(v.Uint() + 1)
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Slice:
			other.Tmpls = []Template{{Reqid: 2}}
		case reflect.Struct:
			switch f.Name {
			case "Sel":
				other.Sel.Proto = 6
			case "AddTime":
				other.AddTime = time.Unix(1, 0)
			default:
				t.Fatalf("field %s: teach this test to change it", f.Name)
			}
		default:
			t.Fatalf("field %s of kind %v: teach this test to change it", f.Name, v.Kind())
		}
		if got := samePolicy(other, base); got != ignored[f.Name] {
			t.Errorf("a policy that differs in %s: samePolicy %v", f.Name, got)
		}
	}
}
