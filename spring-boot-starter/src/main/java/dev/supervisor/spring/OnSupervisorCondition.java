package dev.supervisor.spring;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/** Matches when the app was handed listeners by supervisor or by systemd socket activation. */
final class OnSupervisorCondition extends SpringBootCondition {
    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        return SupervisorListeners.activated() ? ConditionOutcome.match("socket-activated (LISTEN_FDS or SUPERVISOR_SOCKET)")
                : ConditionOutcome.noMatch("not socket-activated: no LISTEN_FDS, no SUPERVISOR_SOCKET");
    }
}
