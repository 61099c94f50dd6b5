package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Calibration is the machine's RS256 signing rate S, measured in this
// process with one goroutine per usable core while the server is idle,
// before the cells and again after them: S is their mean, and the two
// readings show how much the machine's other load moved during the run.
type Calibration struct {
	SignaturesPerSecond float64 `json:"signatures_per_s"`
	// CPUMsPerSignature is the CPU one signature costs, as workers / S:
	// on a machine shared with other work, S falls and this rises.
	CPUMsPerSignature float64 `json:"cpu_ms_per_signature"`
	// MeasuredCPUMsPerSignature is this process's CPU time (from /proc)
	// over the signatures it made: less dependent on the machine's other
	// load, and comparable with the server's CPU per operation.
	MeasuredCPUMsPerSignature float64 `json:"measured_cpu_ms_per_signature"`
	Start                     float64 `json:"signatures_per_s_before"`
	End                       float64 `json:"signatures_per_s_after"`
	Workers                   int     `json:"workers"`
	Seconds                   float64 `json:"seconds_each"`
}

// calibration is one reading.
type calibration struct {
	perSecond float64
	cpuMs     float64 // CPU time per signature, 0 if /proc could not be read
	workers   int
}

// combine sets S from the readings before and after the cells.
func (c *Calibration) combine(before, after calibration) {
	c.Workers = before.workers
	c.Start, c.End = round(before.perSecond, 1), round(after.perSecond, 1)
	s := (before.perSecond + after.perSecond) / 2
	c.SignaturesPerSecond = round(s, 1)
	if s > 0 {
		c.CPUMsPerSignature = round(1000*float64(c.Workers)/s, 3)
	}
	if before.cpuMs > 0 && after.cpuMs > 0 {
		c.MeasuredCPUMsPerSignature = round((before.cpuMs+after.cpuMs)/2, 3)
	}
}

// calibrate signs a token-sized payload (SHA-256, RSA-2048 PKCS #1 v1.5:
// what an RS256 ID token costs the server) on every core for d.
func calibrate(ctx context.Context, d time.Duration) calibration {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	header := `{"alg":"RS256","kid":"k1","typ":"JWT"}.`
	payload := header + `{"iss":"http://127.0.0.1:8080","sub":"dev_10001","aud":["loadgen-a"],"exp":1900000000,"iat":1800000000,` +
		`"auth_time":1800000000,"nonce":"` + strings.Repeat("n", 22) + `","at_hash":"` + strings.Repeat("h", 22) +
		`","name":"张三","preferred_username":"zhangsan","email":"zhangsan@example.gov.cn"}`
	sign := func() {
		sum := sha256.Sum256([]byte(payload))
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:]); err != nil {
			panic(err)
		}
	}
	sign() // precomputed values ready

	workers := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0, cpuErr0 := cpuTime(os.Getpid())
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sign()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	c := calibration{perSecond: float64(n.Load()) / time.Since(start).Seconds(), workers: workers}
	if cpu1, err := cpuTime(os.Getpid()); err == nil && cpuErr0 == nil && n.Load() > 0 {
		c.cpuMs = ms(cpu1-cpu0) / float64(n.Load())
	}
	return c
}
