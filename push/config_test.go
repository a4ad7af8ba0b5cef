package push

import (
	"strings"
	"testing"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/storage/storagetest"
)

func TestFromConfig(t *testing.T) {
	credentials := writeServiceAccount(t, "https://oauth2.example.com/token")
	keyFile, _ := writeP8(t)
	fcm := func(c *config.Config) {
		c.FCMCredentialsFile = credentials
		c.FCMEndpoint = "https://fcm.example.com/"
	}
	apns := func(c *config.Config) {
		c.APNsKeyFile, c.APNsKeyID, c.APNsTeamID, c.APNsTopic = keyFile, testAPNsKeyID, testTeamID, testTopic
		c.APNsEndpoint = "https://api.sandbox.push.apple.com"
	}
	tests := []struct {
		name      string
		edit      []func(*config.Config)
		wantFCM   bool
		wantAPNs  bool
		wantError string
	}{
		{"push off", nil, false, false, ""},
		{"fcm only", []func(*config.Config){fcm}, true, false, ""},
		{"apns only", []func(*config.Config){apns}, false, true, ""},
		{"both", []func(*config.Config){fcm, apns}, true, true, ""},
		{"unusable credentials", []func(*config.Config){func(c *config.Config) {
			c.FCMCredentialsFile = writeFile(t, "bad.json", []byte(`{"type":"service_account"}`))
		}}, false, false, "no project_id"},
		{"unusable key", []func(*config.Config){apns, func(c *config.Config) {
			c.APNsKeyFile = credentials
		}}, false, false, "no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.PushWorkers, cfg.PushQueue, cfg.PushRetries = 2, 7, 5
			for _, edit := range tt.edit {
				edit(&cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("test config does not validate: %v", err)
			}
			d, err := FromConfig(&cfg, storagetest.New(t).Devices(), quiet)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) || d != nil {
					t.Fatalf("FromConfig = %v, %v; want nil and an error containing %q", d, err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantFCM && !tt.wantAPNs {
				if d != nil {
					t.Fatal("FromConfig without providers returned a dispatcher")
				}
				return
			}
			defer closeDispatcher(t, d)
			if cap(d.queue) != 7 || d.retries != 5 {
				t.Errorf("queue %d, retries %d; want the configured 7, 5", cap(d.queue), d.retries)
			}
			f, _ := d.senders[PlatformAndroid].(*FCM)
			if w, _ := d.senders[PlatformWeb].(*FCM); (f != nil) != tt.wantFCM || w != f {
				t.Errorf("android sender %T, web sender %T; want FCM for both: %v", d.senders[PlatformAndroid], d.senders[PlatformWeb], tt.wantFCM)
			}
			if f != nil && f.sendURL != "https://fcm.example.com/v1/projects/"+testProject+"/messages:send" {
				t.Errorf("FCM send URL %q", f.sendURL)
			}
			a, _ := d.senders[PlatformIOS].(*APNs)
			if (a != nil) != tt.wantAPNs {
				t.Errorf("ios sender %T, want APNs: %v", d.senders[PlatformIOS], tt.wantAPNs)
			}
			if a != nil && (a.deviceURL != "https://api.sandbox.push.apple.com/3/device/" || a.topic != testTopic) {
				t.Errorf("APNs device URL %q, topic %q", a.deviceURL, a.topic)
			}
		})
	}
}

func TestOptionsFromConfig(t *testing.T) {
	cfg := config.Defaults()
	got := OptionsFromConfig(&cfg, quiet)
	if got.Workers != 4 || got.Queue != 10000 || got.Retries != 3 || got.Logger != quiet {
		t.Errorf("options %+v from the default config", got)
	}
}
