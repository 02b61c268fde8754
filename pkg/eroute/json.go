package eroute

import "encoding/json"

// jsonEroute is the JSON form of an eroute: the listing's fields, each on
// its own, so that tools need not parse the text. Zero ports and protocol
// mean "any", as in the text.
type jsonEroute struct {
	Count   uint64 `json:"count"`
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	SrcPort uint16 `json:"src_port"`
	DstPort uint16 `json:"dst_port"`
	Proto   uint8  `json:"proto"`
	SAID    string `json:"said"`
}

// MarshalJSON gives {"count":0,"src":"10.0.0.0/24","dst":"10.1.1.1/32",
// "src_port":0,"dst_port":110,"proto":6,"said":"tun0x135@10.9.9.9"}.
func (e Eroute) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonEroute{
		Count: e.Count, Src: e.Src.String(), Dst: e.Dst.String(),
		SrcPort: e.SrcPort, DstPort: e.DstPort, Proto: e.Proto, SAID: e.SAID.String(),
	})
}
