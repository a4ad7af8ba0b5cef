package push

import (
	"log/slog"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/storage"
)

// SendersFromConfig builds the senders the configuration enables, keyed by
// device platform: FCM for android and web when fcm_credentials_file is set,
// APNs for ios when apns_key_file is set. It returns nil when neither is.
func SendersFromConfig(cfg *config.Config) (map[string]Sender, error) {
	senders := map[string]Sender{}
	if cfg.FCMCredentialsFile != "" {
		fcm, err := NewFCM(FCMConfig{
			CredentialsFile: cfg.FCMCredentialsFile,
			Endpoint:        cfg.FCMEndpoint,
			TokenURL:        cfg.FCMTokenURL,
		})
		if err != nil {
			return nil, err
		}
		senders[PlatformAndroid] = fcm
		senders[PlatformWeb] = fcm
	}
	if cfg.APNsKeyFile != "" {
		apns, err := NewAPNs(APNsConfig{
			KeyFile:  cfg.APNsKeyFile,
			KeyID:    cfg.APNsKeyID,
			TeamID:   cfg.APNsTeamID,
			Topic:    cfg.APNsTopic,
			Endpoint: cfg.APNsEndpoint,
		})
		if err != nil {
			return nil, err
		}
		senders[PlatformIOS] = apns
	}
	if len(senders) == 0 {
		return nil, nil
	}
	return senders, nil
}

// OptionsFromConfig maps the push_* settings to dispatcher options. Callers
// that want metrics set OnResult on the result and use NewDispatcher with
// SendersFromConfig.
func OptionsFromConfig(cfg *config.Config, logger *slog.Logger) DispatcherOptions {
	return DispatcherOptions{
		Workers: cfg.PushWorkers,
		Queue:   cfg.PushQueue,
		Retries: cfg.PushRetries,
		Logger:  logger,
	}
}

// FromConfig starts the dispatcher the configuration asks for, or returns
// nil, nil when no provider is configured: a nil *Dispatcher is a valid,
// disabled one. It fails when a configured provider's key or credentials
// cannot be used, so a broken setup stops start-up instead of silently
// losing pushes.
func FromConfig(cfg *config.Config, devices storage.Devices, logger *slog.Logger) (*Dispatcher, error) {
	senders, err := SendersFromConfig(cfg)
	if err != nil || senders == nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("push: enabled",
		"fcm", senders[PlatformAndroid] != nil, "apns", senders[PlatformIOS] != nil,
		"workers", cfg.PushWorkers, "queue", cfg.PushQueue, "retries", cfg.PushRetries)
	return NewDispatcher(devices, senders, OptionsFromConfig(cfg, logger)), nil
}
