# Cold builds started early: on a machine that starts empty, `make test` would build the
# cluster's components (~11 min on 2 cores), kwok and Helm only when their tier comes. Started
# in the background at nice 19 before the runner tier, they use the CPU that tier leaves idle
# (~30 %) and the time apt and pip wait on the network; the tier that needs one waits for its
# build (a lock each: cluster/build-binaries.sh, scripts/go-tool.sh) and finds it done. Warm:
# every build is a stamp check, nothing runs.

.PHONY: prefetch

# what to build ahead: names of cluster/build-binaries.sh (kubernetes, kubeadm…) or of
# scripts/go-tool.sh (kwok, helm); .ci/run adds kubeadm for its kind tier
PREFETCH ?= kubernetes kwok helm

prefetch: ## build the cold components (cluster binaries, kwok, Helm) in the background, niced (make test does this first)
	@mkdir -p $(GAVEL_CACHE)/run
	@echo "[prefetch] building what is not cached yet ($(PREFETCH)) in the background, at nice 19 (log: $(GAVEL_CACHE)/run/prefetch.log)"
	@nohup nice -n 19 bash -c 'for w in $(PREFETCH); do \
		case $$w in kwok|helm) scripts/go-tool.sh $$w ;; kubernetes) cluster/build-binaries.sh ;; *) cluster/build-binaries.sh $$w ;; esac \
		|| echo "[prefetch] $$w failed: its tier builds it again and says why"; done' \
		>$(GAVEL_CACHE)/run/prefetch.log 2>&1 </dev/null &
