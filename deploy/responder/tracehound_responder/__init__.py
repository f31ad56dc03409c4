"""tracehound's Lambda responder: stop (or only report) ECS tasks that raised alerts.

Entry point for Lambda: tracehound_responder.handler.lambda_handler
"""
