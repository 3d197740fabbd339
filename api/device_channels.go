package api

// DeviceChannels answers GET /api/v1/apps/{app}/devices/{device}/override
// (read scope) and DELETE on the same path: the channels stored on the
// server for one device, each "" when there is none. Override is an
// administrator's pin (`patchwire device override`); SelfAssigned is the
// channel an old Capgo plugin (5.x-7.x before x.34.0) chose with
// setChannel, which the server keeps for it. Current plugins keep their
// choice on the device, so nothing is stored for them. DELETE removes both
// and answers what it removed.
type DeviceChannels struct {
	App          string `json:"app_id"`
	Device       string `json:"device_id"`
	Override     string `json:"override"`
	SelfAssigned string `json:"self_assigned"`
}
