package spi

import (
	"os"
	"strings"
	"testing"
)

// ipsec_spi(8) and ipsec_spigrp(8) cover every option their commands have.
func TestManPagesCoverEveryOption(t *testing.T) {
	for page, opts := range map[string][]opt{"../../docs/ipsec_spi.8": spiOptions, "../../docs/ipsec_spigrp.8": spigrpOptions} {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range opts {
			if !strings.Contains(string(text), `\-\-`+strings.ReplaceAll(o.name, "-", `\-`)) {
				t.Errorf("%s does not mention --%s", page, o.name)
			}
		}
	}
}
