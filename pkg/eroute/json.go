package eroute

import "encoding/json"

// JSON is the JSON form of an eroute (a struct a caller may embed in one
// of its own, whose fields then follow): the listing's fields, each on
// its own, so that tools need not parse the text. Zero ports and protocol
// mean "any", as in the text. The fields of protocols without ports (see
// FieldsOf) come under their own names, only when set.
type JSON struct {
	Count    uint64  `json:"count"`
	Src      string  `json:"src"`
	Dst      string  `json:"dst"`
	SrcPort  uint16  `json:"src_port"`
	DstPort  uint16  `json:"dst_port"`
	Proto    uint8   `json:"proto"`
	SAID     string  `json:"said"`
	ICMPType *uint16 `json:"icmp_type,omitempty"`
	ICMPCode *uint16 `json:"icmp_code,omitempty"`
	GREKey   *uint32 `json:"gre_key,omitempty"`
	MHType   *uint16 `json:"mh_type,omitempty"`
}

// MarshalJSON gives {"count":0,"src":"10.0.0.0/24","dst":"10.1.1.1/32",
// "src_port":0,"dst_port":110,"proto":6,"said":"tun0x135@10.9.9.9"}.
func (e Eroute) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.JSON())
}

func (e Eroute) JSON() JSON {
	sport, dport := e.ports()
	j := JSON{
		Count: e.Count, Src: e.Src.String(), Dst: e.Dst.String(),
		SrcPort: sport, DstPort: dport, Proto: e.Proto, SAID: e.SAID.String(),
	}
	set := func(v uint16) *uint16 {
		if v == 0 {
			return nil
		}
		return &v
	}
	switch FieldsOf(e.Proto) {
	case ICMPFields:
		j.ICMPType, j.ICMPCode = set(e.SrcPort), set(e.DstPort)
	case GREFields:
		if k := e.GREKey(); k != 0 {
			j.GREKey = &k
		}
	case MHFields:
		j.MHType = set(e.SrcPort)
	}
	return j
}
