package resolver

// DeviceIDLen is the length of a device id: a UUID in its 36-character
// text form.
const DeviceIDLen = 36

// ValidDeviceID is the device id rule of both device protocols (Capgo's
// /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, the
// plugin's random per-install UUID, and the native POST /v1/check): exactly
// 36 ASCII characters, hex digits of either case with dashes at 8, 13, 18
// and 23. Anything else, a NUL or another control character included, is
// refused. It runs on every device request and does not allocate.
func ValidDeviceID(s string) bool {
	if len(s) != DeviceIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
