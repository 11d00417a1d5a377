# Stacks created before the two schedules became one set of resources over local.schedules hold
# each schedule, its role and its policy under their own addresses. These blocks carry them over
# to their keys, so the next plan moves them instead of recreating them.

moved {
  from = aws_iam_role.ingestion_schedule
  to   = aws_iam_role.schedule["ingestion"]
}

moved {
  from = aws_iam_role_policy.ingestion_schedule
  to   = aws_iam_role_policy.schedule["ingestion"]
}

moved {
  from = aws_scheduler_schedule.daily_ingestion
  to   = aws_scheduler_schedule.daily["ingestion"]
}

moved {
  from = aws_iam_role.pipeline_schedule
  to   = aws_iam_role.schedule["pipeline"]
}

moved {
  from = aws_iam_role_policy.pipeline_schedule
  to   = aws_iam_role_policy.schedule["pipeline"]
}

moved {
  from = aws_scheduler_schedule.daily_pipeline
  to   = aws_scheduler_schedule.daily["pipeline"]
}
